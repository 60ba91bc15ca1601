import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { errorMessage } from '../../errors.js';
import type { RawImage } from '../../image/types.js';
import { type OutputTensor, postprocess } from '../../inference/postprocess.js';
import { preprocess } from '../../inference/preprocess.js';
import { compare, type EvalSet, InputCache, runVariant } from '../../optimize/evaluation/fidelity.js';
import { decodeModel } from '../../optimize/onnx/onnx-io.js';
import { sessionFor, zeroFeeds } from '../../optimize/onnx/runtime.js';
import type { CompareSide, ModelView, ValidationResult } from './validate.js';

/**
 * The deployment child: `validate` loads the candidate in onnxruntime and runs it once (on a frame
 * preprocessed as its manifest says, else on zeros), reporting its outputs and what its decoder
 * found; `compare` runs the previous and the new variant on the same live frames. Whatever the
 * file does to onnxruntime (crash, hang, huge allocation) happens here, under the parent's limits.
 */
type Job =
  | { type: 'validate'; file: string; frame?: RawImage; model?: ModelView }
  | { type: 'compare'; previous: CompareSide; next: CompareSide; frames: RawImage[] };

async function validate(job: Extract<Job, { type: 'validate' }>): Promise<ValidationResult> {
  const bytes = readFileSync(job.file);
  const proto = decodeModel(bytes, job.file);
  const started = performance.now();
  const session = await sessionFor(bytes, { threads: 1 });
  const loadMs = performance.now() - started;
  try {
    let feeds = zeroFeeds(proto);
    let prepared: Awaited<ReturnType<typeof preprocess>> | undefined;
    if (job.frame && job.model) {
      const spec = job.model.input;
      if (!session.inputNames.includes(spec.name))
        throw new Error(
          `the manifest's input "${spec.name}" is not an input of the model (${session.inputNames.join(', ')})`,
        );
      prepared = await preprocess(job.frame, spec);
      feeds = {
        [spec.name]: new ort.Tensor(
          spec.dtype === 'uint8' ? 'uint8' : 'float32',
          prepared.data,
          prepared.dims,
        ),
      };
    }
    const t0 = performance.now();
    const results = await session.run(feeds);
    const inferenceMs = performance.now() - t0;
    const outputs = Object.entries(results).map(([name, t]) => ({ name, shape: [...t.dims].map(Number) }));
    const out: ValidationResult = { outputs, loadMs, inferenceMs, input: prepared ? 'frame' : 'zeros' };
    if (prepared && job.model) {
      const tensors: Record<string, OutputTensor> = {};
      for (const [name, t] of Object.entries(results))
        if (t.type === 'float32') tensors[name] = { data: t.data as Float32Array, dims: t.dims };
      const decoded = postprocess(
        job.model.decoder,
        tensors,
        job.model.input,
        prepared.inverse,
        job.model.labels,
      );
      out.decoded =
        'detections' in decoded
          ? { detections: decoded.detections.length }
          : { ...(decoded.classes[0] ? { topClass: decoded.classes[0].label } : {}) };
    }
    return out;
  } finally {
    await session.release();
  }
}

function evalSet(model: ModelView, frames: RawImage[]): EvalSet {
  return {
    task: model.task,
    decoder: model.decoder,
    labels: model.labels,
    images: frames,
    names: frames.map((_, i) => `live-${i}`),
  };
}

async function compareSides(job: Extract<Job, { type: 'compare' }>) {
  const inputs = new InputCache(job.frames);
  const prevSet = evalSet(job.previous.model, job.frames);
  const nextSet = evalSet(job.next.model, job.frames);
  const previous = await runVariant(
    readFileSync(job.previous.file),
    job.previous.model.input,
    prevSet,
    inputs,
    {
      threads: 1,
    },
  );
  const next = await runVariant(readFileSync(job.next.file), job.next.model.input, nextSet, inputs, {
    threads: 1,
  });
  return compare(nextSet, previous, next);
}

process.once('message', (job: Job) => {
  void (async () => {
    try {
      const result = job.type === 'compare' ? await compareSides(job) : await validate(job);
      process.send?.({ type: 'result', result }, () => process.exit(0));
    } catch (err) {
      process.send?.({ type: 'error', message: errorMessage(err) }, () => process.exit(1));
    }
  })();
});
