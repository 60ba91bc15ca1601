// An onnxruntime session in a worker thread. onnxruntime-node's `run` is synchronous on the calling
// thread (microsoft/onnxruntime#19611), so the agent runs it here to keep its event loop free.
// Plain JavaScript: it must load the same way under tsx, vitest and the compiled package.
//
// workerData: { model: Uint8Array, attempts: [{ provider, options }] }  (options: ort SessionOptions)
// in:  { type: 'run', id, name, dtype, dims, data: TypedArray (transferred) } | { type: 'release' }
//      { type: 'port', port: MessagePort } — another thread (the pipeline worker) sends runs on it
//      and gets its replies there, so tensors and outputs never cross the main thread
// out: { type: 'ready', executionProvider, rejected, inputNames, outputNames, createMs }
//      { type: 'failed', message } | { type: 'result', id, outputs, input, runMs, idleMs }
//      { type: 'error', id, message }
// runMs: session.run alone; idleMs: how long the worker waited for this request since its last
// reply (0 when the request was already queued) — the caller's overhead as the model sees it.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

// The same conversion as float16ToFloat32 in model.ts: this plain-JS file cannot import TypeScript.
function float16ToFloat32(bits) {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] =
      exp === 0
        ? sign * 2 ** -14 * (frac / 1024)
        : exp === 31
          ? frac
            ? Number.NaN
            : sign * Number.POSITIVE_INFINITY
          : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}

function toFloat32(tensor) {
  if (tensor.type === 'float32') return tensor.data;
  if (tensor.type === 'float16') return float16ToFloat32(tensor.data);
  throw new Error(
    `model output of type ${tensor.type} is not supported by the decoders (float32/float16 only)`,
  );
}

async function open() {
  const rejected = [];
  for (const { provider, options } of workerData.attempts) {
    const started = performance.now();
    try {
      const session = await ort.InferenceSession.create(workerData.model, options);
      return { session, provider, rejected, createMs: performance.now() - started };
    } catch (err) {
      rejected.push({ provider, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  throw new Error(rejected.map((r) => `${r.provider}: ${r.reason}`).join('; '));
}

let opened;
try {
  opened = await open();
} catch (err) {
  parentPort.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(0);
}
const { session } = opened;
parentPort.postMessage({
  type: 'ready',
  executionProvider: opened.provider,
  rejected: opened.rejected,
  inputNames: session.inputNames,
  outputNames: session.outputNames,
  createMs: opened.createMs,
});

let lastReplyAt;
const ports = new Set();

async function serve(msg, reply) {
  if (msg.type !== 'run') return;
  const received = performance.now();
  const idleMs = lastReplyAt === undefined ? 0 : received - lastReplyAt;
  try {
    const input = new ort.Tensor(msg.dtype, msg.data, msg.dims);
    const started = performance.now();
    const results = await session.run({ [msg.name]: input });
    const runMs = performance.now() - started;
    const outputs = {};
    const transfer = new Set([msg.data.buffer]);
    for (const [name, value] of Object.entries(results)) {
      const data = toFloat32(value);
      outputs[name] = { data, dims: value.dims };
      transfer.add(data.buffer);
    }
    // The input buffer goes back to the caller's pool; outputs move without a copy.
    reply.postMessage({ type: 'result', id: msg.id, outputs, input: msg.data, runMs, idleMs }, [...transfer]);
    lastReplyAt = performance.now();
  } catch (err) {
    reply.postMessage(
      {
        type: 'error',
        id: msg.id,
        message: err instanceof Error ? err.message : String(err),
        input: msg.data,
      },
      [msg.data.buffer],
    );
    lastReplyAt = performance.now();
  }
}

parentPort.on('message', async (msg) => {
  if (msg.type === 'release') {
    await session.release();
    for (const port of ports) port.close();
    parentPort.close();
    return;
  }
  if (msg.type === 'port') {
    const { port } = msg;
    ports.add(port);
    port.on('message', (m) => serve(m, port));
    port.on('close', () => ports.delete(port));
    return;
  }
  await serve(msg, parentPort);
});
