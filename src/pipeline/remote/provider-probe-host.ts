import { MessageChannel, type Worker } from 'node:worker_threads';
import type { ExecutionProvidersInfo } from '../../hardware/schema.js';
import { deliverQueued } from './port-drain.js';
import type { ProbeProviders, ProbeReply } from './protocol.js';

export interface WorkerProbeOptions {
  /** The level the worker logs the probe at (its lines come back through `relay`). */
  logLevel: string;
  relay: (line: string) => void;
  /** Given up on after this long (a hung driver), like a worker that ends before answering. */
  timeoutMs?: number;
}

/**
 * Asks the pipeline worker to probe onnxruntime's execution providers (worker-main.ts), so the
 * main thread never loads onnxruntime for it (docs/hardware.md). Never rejects: resolves to the
 * reason (`failure`) when the worker has ended, ends before answering, fails or does not answer in
 * time — the caller then probes in its own thread.
 */
export function probeInPipelineWorker(
  worker: Worker,
  options: WorkerProbeOptions,
): Promise<{ info?: ExecutionProvidersInfo; failure?: string }> {
  if (worker.threadId === -1) return Promise.resolve({ failure: 'the pipeline worker has ended' });
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (answer: { info?: ExecutionProvidersInfo; failure?: string }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.off('exit', onExit);
      port2.close();
      resolve(answer);
    };
    // The worker's end shows as its exit or as the port closing, whichever comes first.
    const ended = () => settle({ failure: 'the pipeline worker ended before answering' });
    // A port that closed has delivered everything first (and must not be read from then: that
    // crashes Node, port-drain.ts); at the exit an answer posted just before may still be queued.
    const onExit = () => {
      if (!settled) deliverQueued(port2);
      ended();
    };
    const timer = setTimeout(
      () => settle({ failure: 'the pipeline worker did not answer in time' }),
      options.timeoutMs ?? 60_000,
    );
    timer.unref();
    port2.on('message', (msg: ProbeReply) => {
      if (msg.type === 'log') options.relay(msg.line);
      else if (msg.type === 'done') settle({ info: msg.info });
      else settle({ failure: msg.message });
    });
    port2.once('close', ended);
    worker.once('exit', onExit);
    const msg: ProbeProviders = { type: 'probe-providers', port: port1, logLevel: options.logLevel };
    try {
      worker.postMessage(msg, [port1]);
    } catch (err) {
      settle({ failure: `cannot ask the pipeline worker: ${String(err)}` });
    }
  });
}
