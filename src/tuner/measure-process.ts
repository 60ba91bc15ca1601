import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EdgeAgentError, errorMessage } from '../errors.js';
import { ALLOCATION_FAILURE, forkCapped, ResidentWatch } from './child-memory.js';
import type {
  BaselineNote,
  BurstResult,
  ChildAnswer,
  FidelityAnswer,
  FidelityJob,
  Finished,
  OpenJob,
  ParentMessage,
  Ready,
} from './measure-protocol.js';

/** A measurement that failed: the candidate's error, or its process died (OOM, crash). */
export class MeasurementError extends EdgeAgentError {
  override name = 'MeasurementError';
  /** The child passed its memory cap (killed by the watch, or an allocation refused by the limit). */
  memoryExceeded = false;
}

function memoryError(message: string): MeasurementError {
  const e = new MeasurementError(message);
  e.memoryExceeded = true;
  return e;
}

export interface MeasureProcessOptions {
  /**
   * Memory the session may use above the child's own baseline (bytes): over it the child is
   * stopped and the candidate does not fit (child-memory.ts). Absent: no cap.
   */
  memoryCapBytes?: number | undefined;
  /**
   * Node arguments of the child beyond its entry's: the lean runtime's (`--lite-mode`) when the
   * agent serves on it, so per-frame figures are what its inference worker pays (docs/tuner.md).
   */
  nodeArgs?: readonly string[] | undefined;
}

function childEntry(): { script: string; execArgv: string[] } {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(dir, 'measure-child.js');
  if (existsSync(js)) return { script: js, execArgv: [] };
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { script: path.join(dir, 'measure-child.ts'), execArgv: ['--import', loader] };
}

/**
 * One measuring child process (as optimize/derive-process.ts does for derivations): requests go
 * one at a time over IPC; if the process dies the pending request rejects with how it died, and
 * the tuner goes on with the next candidate.
 */
export class MeasureProcess {
  private pending: { resolve: (a: ChildAnswer) => void; reject: (e: Error) => void } | undefined;
  private exited: MeasurementError | undefined;
  private stderr = '';
  private readonly watch: ResidentWatch | undefined;
  private overCap: string | undefined;

  private constructor(
    private readonly child: ChildProcess,
    private readonly capBytes: number | undefined,
  ) {
    if (capBytes !== undefined && child.pid !== undefined)
      this.watch = new ResidentWatch(child.pid, capBytes, (rss, limit) => {
        this.overCap = `resident memory reached ${mb(rss)}, over its cap of ${mb(limit)} (baseline + ${mb(capBytes)} for the session)`;
        this.kill();
      }).start();
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-2000);
    });
    child.on('message', (m: ChildAnswer | BaselineNote) => {
      if (m.type === 'baseline') return this.watch?.setBaseline(m.rssBytes);
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (m.type === 'error') {
        // A refused allocation under the data limit is the cap speaking, not a broken model.
        p.reject(
          this.capBytes !== undefined && ALLOCATION_FAILURE.test(m.message)
            ? memoryError(`could not allocate within its memory cap of ${mb(this.capBytes)}: ${m.message}`)
            : new MeasurementError(m.message),
        );
      } else p.resolve(m);
    });
    child.once('error', (err) =>
      this.died(new MeasurementError(`measurement process: ${errorMessage(err)}`)),
    );
    child.once('exit', (code, signal) => {
      this.watch?.stop();
      if (this.overCap) return this.died(memoryError(`the measurement process ${this.overCap}`));
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      const last = this.stderr.trim().split('\n').at(-1);
      const message = `the measurement process ${how}${last ? ` (${last.slice(0, 300)})` : ''}`;
      // V8's heap limit or an allocation refused by the data limit, when the child dies of it.
      if (this.capBytes !== undefined && ALLOCATION_FAILURE.test(this.stderr))
        return this.died(memoryError(`${message} — out of its memory cap of ${mb(this.capBytes)}`));
      const hint = signal === 'SIGKILL' ? ' — most likely out of memory' : '';
      this.died(new MeasurementError(`${message}${hint}`));
    });
  }

  static spawn(options: MeasureProcessOptions = {}): MeasureProcess {
    const { script, execArgv } = childEntry();
    try {
      return new MeasureProcess(
        forkCapped(script, [...execArgv, ...(options.nodeArgs ?? [])], options.memoryCapBytes, {
          serialization: 'advanced',
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        }),
        options.memoryCapBytes,
      );
    } catch (err) {
      throw new MeasurementError(`cannot start the measurement process: ${errorMessage(err)}`);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private died(error: MeasurementError): void {
    this.exited ??= error;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(error);
  }

  private call<T extends ChildAnswer>(
    message: ParentMessage,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    if (signal?.aborted) return Promise.reject(new MeasurementError('measurement aborted'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        this.died(
          new MeasurementError(
            `no answer to "${message.type}" within ${Math.round(timeoutMs / 1000)} s; the candidate was stopped`,
          ),
        );
      }, timeoutMs);
      const onAbort = () => {
        this.kill();
        this.died(new MeasurementError('measurement aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.pending = {
        resolve: (a) => {
          done();
          resolve(a as T);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      this.child.send(message);
    });
  }

  open(job: OpenJob, timeoutMs: number, signal?: AbortSignal): Promise<Ready> {
    return this.call<Ready>({ type: 'open', job }, timeoutMs, signal);
  }

  burst(runs: number, budgetMs: number, signal?: AbortSignal): Promise<BurstResult> {
    // A single run may exceed the budget (a slow model): allow it generously before giving up.
    return this.call<BurstResult>({ type: 'burst', runs, budgetMs }, budgetMs * 4 + 60_000, signal);
  }

  finish(signal?: AbortSignal): Promise<Finished> {
    return this.call<Finished>({ type: 'finish' }, 30_000, signal);
  }

  fidelity(job: FidelityJob, timeoutMs: number, signal?: AbortSignal): Promise<FidelityAnswer> {
    return this.call<FidelityAnswer>({ type: 'fidelity', job }, timeoutMs, signal);
  }

  /** Ends the process (SIGKILL: a measuring child holds nothing worth a graceful exit). */
  kill(): void {
    this.watch?.stop();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MB`;
}
