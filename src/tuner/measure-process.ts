import { type ChildProcess, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { EdgeAgentError, errorMessage } from '../errors.js';
import type {
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
  private exited: string | undefined;
  private stderr = '';

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString('utf8')).slice(-2000);
    });
    child.on('message', (m: ChildAnswer) => {
      const p = this.pending;
      this.pending = undefined;
      if (!p) return;
      if (m.type === 'error') {
        const e = new MeasurementError(m.message);
        p.reject(e);
      } else p.resolve(m);
    });
    child.once('error', (err) => this.died(`measurement process: ${errorMessage(err)}`));
    child.once('exit', (code, signal) => {
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      const hint = signal === 'SIGKILL' ? ' — most likely out of memory' : '';
      const last = this.stderr.trim().split('\n').at(-1);
      this.died(`the measurement process ${how}${hint}${last ? ` (${last})` : ''}`);
    });
  }

  static spawn(): MeasureProcess {
    const { script, execArgv } = childEntry();
    try {
      return new MeasureProcess(
        fork(script, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] }),
      );
    } catch (err) {
      throw new MeasurementError(`cannot start the measurement process: ${errorMessage(err)}`);
    }
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  private died(why: string): void {
    this.exited ??= why;
    const p = this.pending;
    this.pending = undefined;
    p?.reject(new MeasurementError(why));
  }

  private call<T extends ChildAnswer>(
    message: ParentMessage,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<T> {
    if (this.exited) return Promise.reject(new MeasurementError(this.exited));
    if (signal?.aborted) return Promise.reject(new MeasurementError('measurement aborted'));
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        this.died(
          `no answer to "${message.type}" within ${Math.round(timeoutMs / 1000)} s; the candidate was stopped`,
        );
      }, timeoutMs);
      const onAbort = () => {
        this.kill();
        this.died('measurement aborted');
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
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
