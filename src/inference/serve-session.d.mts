// Types of serve-session.mjs (plain JavaScript, so that session-worker.mjs loads without tsx).
import type { MessagePort } from 'node:worker_threads';

export interface SessionAttempt {
  provider: string;
  /** onnxruntime SessionOptions for this execution provider. */
  options: Record<string, unknown>;
}

export interface ServeSessionOptions {
  /** The model's bytes (moved to the serving thread). */
  model: Uint8Array;
  /** Execution providers to try in order; the first that opens the session serves it. */
  attempts: readonly SessionAttempt[];
}

/**
 * Opens the session and serves it on `port` until a `release` message or the port closes.
 * Resolves true once it serves, false when it could not open (`failed` posted, the port closed).
 */
export function serveSession(
  port: MessagePort | { postMessage(value: unknown): void; on(...args: unknown[]): unknown; close(): void },
  options: ServeSessionOptions,
): Promise<boolean>;
