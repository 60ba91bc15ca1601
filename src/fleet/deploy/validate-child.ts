import { readFileSync } from 'node:fs';
import { errorMessage } from '../../errors.js';
import { decodeModel } from '../../optimize/onnx/onnx-io.js';
import { sessionFor, zeroFeeds } from '../../optimize/onnx/runtime.js';

/**
 * The validation child: loads the candidate model in onnxruntime, runs it once on zeros, and
 * reports its outputs' names and shapes. Whatever the file does to onnxruntime happens here.
 */
interface Job {
  type: 'validate';
  file: string;
}

process.once('message', (job: Job) => {
  void (async () => {
    try {
      const bytes = readFileSync(job.file);
      const model = decodeModel(bytes, job.file);
      const started = performance.now();
      const session = await sessionFor(bytes, { threads: 1 });
      const loadMs = performance.now() - started;
      const t0 = performance.now();
      const results = await session.run(zeroFeeds(model));
      const inferenceMs = performance.now() - t0;
      const outputs = Object.entries(results).map(([name, t]) => ({ name, shape: [...t.dims].map(Number) }));
      await session.release();
      process.send?.({ type: 'result', result: { outputs, loadMs, inferenceMs } }, () => process.exit(0));
    } catch (err) {
      process.send?.({ type: 'error', message: errorMessage(err) }, () => process.exit(1));
    }
  })();
});
