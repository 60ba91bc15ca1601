import type { TransferListItem } from 'node:worker_threads';
import { EdgeAgentError } from '../errors.js';
import type { OutputTensor } from './postprocess.js';

export type TensorData = Float32Array | Uint8Array;

/** Called with the input buffer once the worker hands it back (it was moved, not copied). */
export type Recycle = (data: TensorData) => void;

/** A worker or a message port to the session (serve-session.mjs). */
export interface TensorEndpoint {
  postMessage(value: unknown, transferList?: readonly TransferListItem[]): void;
}

export interface WorkerTimes {
  runs: number;
  runMs: number;
  idleMs: number;
}

export type RunReply =
  | {
      type: 'result';
      id: number;
      outputs: Record<string, OutputTensor>;
      input: TensorData;
      runMs: number;
      idleMs: number;
    }
  | { type: 'error'; id: number; message: string; input: TensorData };

interface Pending {
  resolve: (outputs: Record<string, OutputTensor>) => void;
  reject: (err: Error) => void;
  recycle: Recycle | undefined;
}

/**
 * The caller's side of serve-session.mjs's run protocol, over the session's worker or port
 * (`WorkerModel` on the main thread) or over another port to it (`PortModel` in the pipeline worker): tensors move to
 * the session and back without a copy; outputs arrive as float32.
 */
export class TensorClient {
  private readonly pending = new Map<number, Pending>();
  private readonly totals: WorkerTimes = { runs: 0, runMs: 0, idleMs: 0 };
  private nextId = 1;
  stopped: string | undefined;

  constructor(
    private readonly endpoint: TensorEndpoint,
    private readonly inputName: string,
  ) {}

  /**
   * Runs the session on a prepared tensor. The tensor's buffer moves to the worker and is handed
   * back through `recycle`; without `recycle` a copy is sent and the caller keeps its buffer.
   */
  run(
    input: { data: TensorData; dims: readonly number[] },
    recycle?: Recycle,
  ): Promise<Record<string, OutputTensor>> {
    if (this.stopped) return Promise.reject(new EdgeAgentError(this.stopped));
    const id = this.nextId++;
    const movable =
      recycle !== undefined &&
      input.data.byteOffset === 0 &&
      input.data.byteLength === input.data.buffer.byteLength;
    const data = movable ? input.data : input.data.slice();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, recycle });
      const dtype = data instanceof Float32Array ? 'float32' : 'uint8';
      this.endpoint.postMessage({ type: 'run', id, name: this.inputName, dtype, dims: input.dims, data }, [
        data.buffer as ArrayBuffer,
      ]);
    });
  }

  /** Totals of the runs sent through this client, measured inside the worker. */
  times(): WorkerTimes {
    return { ...this.totals };
  }

  /** Takes a reply; false when the message is not one of this protocol's. */
  onMessage(msg: { type: string }): boolean {
    if (msg.type !== 'result' && msg.type !== 'error') return false;
    const reply = msg as RunReply;
    const pending = this.pending.get(reply.id);
    if (!pending) return true;
    this.pending.delete(reply.id);
    pending.recycle?.(reply.input);
    if (reply.type === 'result') {
      this.totals.runs++;
      this.totals.runMs += reply.runMs;
      this.totals.idleMs += reply.idleMs;
      pending.resolve(reply.outputs);
    } else pending.reject(new EdgeAgentError(`inference failed: ${reply.message}`));
    return true;
  }

  /** Rejects what is pending and every later run; the first reason sticks. Returns whether it was the first. */
  fail(reason: string): boolean {
    const first = this.stopped === undefined;
    this.stopped ??= reason;
    for (const p of this.pending.values()) p.reject(new EdgeAgentError(reason));
    this.pending.clear();
    return first;
  }
}
