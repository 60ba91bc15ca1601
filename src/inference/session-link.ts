import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type MessagePort, type TransferListItem, Worker } from 'node:worker_threads';
import { EdgeAgentError, errorMessage } from '../errors.js';
import { packageRoot } from '../paths.js';
import type { ServeSessionOptions } from './serve-session.mjs';

export type { SessionAttempt } from './serve-session.mjs';

/**
 * A thread that serves sessions besides their own worker: the camera pipeline's worker
 * (src/pipeline/remote/session-host.ts), so the serving agent runs two V8 isolates, not three.
 */
export interface SessionHost {
  /**
   * Serves a session in the host's thread (serve-session.mjs) and returns this thread's end of
   * its port; undefined when the host's thread has ended (the session then gets its own worker).
   */
  open(session: ServeSessionOptions): MessagePort | undefined;
}

/** Where the session runs, as `WorkerModel` drives it. */
export interface SessionLink {
  /** 'worker': a worker of its own; 'host': a host's thread (the pipeline worker). */
  readonly where: 'worker' | 'host';
  postMessage(value: unknown, transfer?: readonly TransferListItem[]): void;
  onMessage(listener: (msg: { type: string }) => void): () => void;
  /** Once, when the session's thread or port ends without having been released (crash, exit). */
  onEnd(listener: (reason: string) => void): () => void;
  /** Asks for the release; resolves when the session's end is gone, or after `timeoutMs` (cut off). */
  release(timeoutMs: number): Promise<void>;
  /** Ends it without waiting (a session that failed the caller's checks). */
  terminate(): Promise<void>;
}

function workerScript(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), 'session-worker.mjs');
  if (existsSync(here)) return here;
  // Compiled to dist/: the plain-JS worker ships in src/.
  const shipped = path.join(packageRoot(), 'src', 'inference', 'session-worker.mjs');
  if (existsSync(shipped)) return shipped;
  throw new EdgeAgentError(`inference worker script not found (looked in ${here} and ${shipped})`);
}

/** A session in a worker of its own (session-worker.mjs); the model's bytes move there. */
export function sessionWorker(session: ServeSessionOptions): SessionLink {
  const worker = new Worker(workerScript(), {
    workerData: session,
    // The worker only moves tensors: a small young generation keeps its heap (and RSS) small.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    transferList: [session.model.buffer as ArrayBuffer],
  });
  let exited = false;
  const gone = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  return {
    where: 'worker',
    postMessage: (value, transfer) => worker.postMessage(value, transfer),
    onMessage(listener) {
      worker.on('message', listener);
      return () => worker.off('message', listener);
    },
    onEnd(listener) {
      let told = false;
      const once = (reason: string) => {
        if (!told) listener(reason);
        told = true;
      };
      const onError = (err: Error) => once(`inference worker crashed: ${errorMessage(err)}`);
      const onExit = (code: number) => once(`inference worker exited (code ${code})`);
      worker.on('error', onError);
      worker.on('exit', onExit);
      return () => {
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
    },
    async release(timeoutMs) {
      if (exited) return;
      worker.postMessage({ type: 'release' });
      const timer = setTimeout(() => void worker.terminate(), timeoutMs);
      await gone;
      clearTimeout(timer);
    },
    async terminate() {
      await worker.terminate();
    },
  };
}

/** A session a host serves, reached through `port` (the host's `open`). */
export function hostedSession(port: MessagePort): SessionLink {
  let closed = false;
  const gone = new Promise<void>((resolve) =>
    port.once('close', () => {
      closed = true;
      resolve();
    }),
  );
  return {
    where: 'host',
    postMessage: (value, transfer) => port.postMessage(value, transfer),
    onMessage(listener) {
      port.on('message', listener);
      return () => port.off('message', listener);
    },
    onEnd(listener) {
      // The host closes the port after a release; before one, a close means its thread ended.
      const onClose = () =>
        listener('inference worker exited (the pipeline worker hosting the session ended)');
      port.once('close', onClose);
      return () => port.off('close', onClose);
    },
    async release(timeoutMs) {
      if (closed) return;
      port.postMessage({ type: 'release' });
      const timer = setTimeout(() => port.close(), timeoutMs);
      await gone;
      clearTimeout(timer);
    },
    async terminate() {
      // The host releases a session whose port closes.
      port.close();
      await gone;
    },
  };
}
