import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { SessionHost } from '../../inference/session-link.js';
import { deliverQueued } from './port-drain.js';
import type { HostSession } from './protocol.js';

/**
 * The pipeline worker as the host of the agent's onnxruntime sessions (worker-main.ts serves them
 * with serve-session.mjs): one V8 isolate less than a session worker of their own (~7-8 MB RSS),
 * and the pipeline's tensors and outputs stay in one thread. Usable before its pipeline is told
 * what to run, so the first model loads while the worker starts.
 */
export function pipelineSessionHost(worker: Worker): SessionHost {
  let alive = true;
  const open = new Set<MessagePort>();
  worker.once('exit', () => {
    alive = false;
    // A port sent to a thread that has already ended never closes on its own: close ours, so a
    // model being loaded there fails instead of waiting. What the thread posted before it ended
    // (a session's `released`) is handed over first: closing drops it.
    for (const port of open) {
      deliverQueued(port);
      port.close();
    }
    open.clear();
  });
  return {
    open(session) {
      if (!alive) return undefined;
      const { port1, port2 } = new MessageChannel();
      open.add(port2);
      port2.once('close', () => open.delete(port2));
      const msg: HostSession = { type: 'host-session', port: port1, session };
      worker.postMessage(msg, [port1, session.model.buffer as ArrayBuffer]);
      return port2;
    },
  };
}
