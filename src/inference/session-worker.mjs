// An onnxruntime session in a worker thread of its own (serve-session.mjs has the protocol): used
// when no pipeline worker hosts the session — the CLI, tests, measuring children, an agent whose
// pipeline runs on the main thread. Plain JavaScript: it must load the same way under tsx, vitest
// and the compiled package.
//
// workerData: { model: Uint8Array, attempts: [{ provider, options }] }  (options: ort SessionOptions)
import { parentPort, workerData } from 'node:worker_threads';
import { serveSession } from './serve-session.mjs';

// A session that could not open: `failed` was posted; nothing else keeps this thread.
if (!(await serveSession(parentPort, workerData))) process.exit(0);
