// Test-only: a real pipeline worker (src/pipeline/remote/boot.mjs, named in workerData.boot) that
// throws an uncaught error when the main thread posts { type: 'test-crash' } — how a bug in the
// worker's JavaScript ends it. (Not `worker.terminate()`: terminating a thread while onnxruntime's
// synchronous `run` is under way in it aborts the whole process, which is why the agent never does.)
// The pipeline worker ignores the message type it does not know. The listener is added after the
// worker's own: a port delivers what it queued to the listeners it has when the first is added.
import { parentPort, workerData } from 'node:worker_threads';

await import(workerData.boot);
parentPort?.on('message', (msg) => {
  if (msg?.type !== 'test-crash') return;
  setImmediate(() => {
    throw new Error('injected crash in the pipeline worker');
  });
});
