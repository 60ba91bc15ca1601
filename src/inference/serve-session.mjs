// One onnxruntime session served on a message port, in whatever thread calls `serveSession`: its
// own worker (session-worker.mjs: the CLI, tests, an agent without a pipeline worker) or the
// camera pipeline's worker, which hosts the agent's sessions so the serving agent runs two V8
// isolates, not three (docs/memory.md). onnxruntime-node's `run` is synchronous on the calling
// thread (microsoft/onnxruntime#19611): it blocks this thread, never the main one.
// Plain JavaScript: it must load the same way under tsx, vitest and the compiled package.
//
// options: { model: Uint8Array, attempts: [{ provider, options }] }  (options: ort SessionOptions)
// in:  { type: 'run', id, name, dtype, dims, data: TypedArray (transferred) } | { type: 'release' }
//      { type: 'port', port: MessagePort } — another thread (or the pipeline in this one) sends runs
//      on it and gets its replies there, so tensors and outputs never cross the main thread
// out: { type: 'ready', executionProvider, rejected, inputNames, outputNames, createMs }
//      { type: 'failed', message } | { type: 'result', id, outputs, input, runMs, idleMs }
//      { type: 'error', id, message } | { type: 'released', error? } (then the port closes)
// runMs: session.run alone; idleMs: how long the session waited for this request since its last
// reply (0 when the request was already queued) — the caller's overhead as the model sees it.
import * as ort from 'onnxruntime-node';
import { float16ToFloat32 } from './float16.mjs';

function toFloat32(tensor) {
  if (tensor.type === 'float32') return tensor.data;
  if (tensor.type === 'float16') return float16ToFloat32(tensor.data);
  throw new Error(
    `model output of type ${tensor.type} is not supported by the decoders (float32/float16 only)`,
  );
}

const messageOf = (err) => (err instanceof Error ? err.message : String(err));

async function open({ model, attempts }) {
  const rejected = [];
  for (const { provider, options } of attempts) {
    const started = performance.now();
    try {
      const session = await ort.InferenceSession.create(model, options);
      return { session, provider, rejected, createMs: performance.now() - started };
    } catch (err) {
      rejected.push({ provider, reason: messageOf(err) });
    }
  }
  throw new Error(rejected.map((r) => `${r.provider}: ${r.reason}`).join('; '));
}

/**
 * Opens the session and serves it on `port` until a `release` message (or until the port closes).
 * Resolves once the session is open (true) or could not be (false: `failed` was posted and the
 * port closed).
 */
export async function serveSession(port, options) {
  let opened;
  try {
    opened = await open(options);
  } catch (err) {
    port.postMessage({ type: 'failed', message: messageOf(err) });
    port.close();
    return false;
  }
  const { session } = opened;
  port.postMessage({
    type: 'ready',
    executionProvider: opened.provider,
    rejected: opened.rejected,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    createMs: opened.createMs,
  });

  let lastReplyAt;
  let released = false;
  const ports = new Set();

  async function serve(msg, reply) {
    if (msg.type !== 'run') return;
    const received = performance.now();
    const idleMs = lastReplyAt === undefined ? 0 : received - lastReplyAt;
    try {
      if (released) throw new Error('the session was released');
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
      reply.postMessage({ type: 'result', id: msg.id, outputs, input: msg.data, runMs, idleMs }, [
        ...transfer,
      ]);
    } catch (err) {
      reply.postMessage({ type: 'error', id: msg.id, message: messageOf(err), input: msg.data }, [
        msg.data.buffer,
      ]);
    }
    lastReplyAt = performance.now();
  }

  async function release() {
    if (released) return;
    released = true;
    let error;
    try {
      await session.release();
    } catch (err) {
      error = messageOf(err);
    }
    for (const p of ports) p.close();
    port.postMessage({ type: 'released', ...(error ? { error } : {}) });
    port.close();
  }

  port.on('message', (msg) => {
    if (msg.type === 'release') return void release();
    if (msg.type === 'port') {
      const extra = msg.port;
      ports.add(extra);
      extra.on('message', (m) => void serve(m, extra));
      extra.on('close', () => ports.delete(extra));
      return;
    }
    void serve(msg, port);
  });
  // The owner went away without releasing (its thread ended): free the session all the same.
  port.on('close', () => void release());
  return true;
}
