import { type ChildProcess, fork } from 'node:child_process';
import { childEntry } from '../../child-entry.js';
import { EdgeAgentError, errorMessage } from '../../errors.js';
import type { Variant } from '../../models/manifest.js';
import type { DerivedVariant } from '../derive.js';
import type { FidelityReport } from '../evaluation/fidelity.js';
import type { FrameSource } from '../evaluation/frames.js';
import type { Method } from '../methods/index.js';
import type { Progress, ProgressFn } from '../progress.js';

/**
 * Derivation in a child process, for the running agent. In the agent's own process a YOLOX int8
 * calibration held the event loop for up to 1.4 s at a time (p99 0.3 s over 20 s: the HTTP API,
 * result events and MQTT answers wait) and raised the process's peak memory by ~400 MB, which a
 * 512 MB board does not have and which the allocator does not all give back. A child keeps the
 * agent responsive, returns every byte when it exits, and if the kernel's OOM killer strikes, it
 * kills the derivation, which is reported, not the agent. The CLI (`edge-agent derive`) derives
 * in its own process already and calls `derive()` directly.
 */

export interface DeriveJob {
  modelsDir: string;
  dataDir: string;
  model: string;
  method: Method;
  params: Record<string, unknown>;
  /** Source variant id; the model's default variant when absent. */
  source?: string;
  calibration?: FrameSource;
  threads?: number;
  /** The child refuses up front above this estimate and stops when its RSS passes it (MB). */
  maxMemoryMB?: number;
}

/** What the agent reports of a derivation (the `derive` command's answer). */
export interface DeriveSummary {
  model: string;
  variant: Variant;
  fidelity: FidelityReport;
  kernels: Record<string, number>;
  source: DerivedVariant['source'];
  result: { bytes: number; parameterCount: number; flops: number | undefined };
  derivationMs: number;
  /** Peak RSS of the process that derived (the child's, when the agent derived). */
  processPeakRssMB?: number;
}

export function deriveSummary(r: DerivedVariant): DeriveSummary {
  return {
    model: r.model,
    variant: r.variant,
    fidelity: r.fidelity,
    kernels: r.kernels,
    source: r.source,
    result: { bytes: r.result.bytes, parameterCount: r.result.parameterCount, flops: r.result.flops },
    derivationMs: r.derivationMs,
  };
}

export type ChildMessage =
  | { type: 'progress'; progress: Progress }
  | { type: 'result'; result: DeriveSummary }
  | { type: 'error'; name: string; message: string };

export interface DeriveProcessOptions {
  onProgress?: ProgressFn;
  signal?: AbortSignal;
  /** Called with the child's pid once it runs (tests, logs). */
  onSpawn?(pid: number): void;
  /** After an abort: SIGTERM, then SIGKILL when it has not exited this long after. */
  killAfterMs?: number;
}

/**
 * The young generation stays small (V8 grows it to 3 × 16 MB under the allocation rate of calibration);
 * `gc()` for the child's collections between steps (derive-child.ts, collectBetweenSteps).
 */
const CHILD_V8_FLAGS = ['--max-semi-space-size=2', '--expose-gc'] as const;

/**
 * glibc settings for the child unless the environment sets its own: two malloc arenas (not 8 per
 * core for onnxruntime's threads), and large blocks always mapped and returned on free — a fixed
 * mmap threshold stops glibc from raising it after the first freed activation buffer and then
 * keeping every later one in its heap. Measured on YOLOX-nano int8-static (docs/memory.md).
 */
export const CHILD_MALLOC_ENV = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '0',
} as const;

/** Runs one derivation in a child process; resolves with its summary, rejects with its error. */
export function deriveInChildProcess(
  job: DeriveJob,
  options: DeriveProcessOptions = {},
): Promise<DeriveSummary> {
  if (options.signal?.aborted) return Promise.reject(new EdgeAgentError('derivation aborted'));
  const { script, execArgv } = childEntry(import.meta.url, 'derive-child');
  let child: ChildProcess;
  try {
    child = fork(script, [], {
      execArgv: [...CHILD_V8_FLAGS, ...execArgv],
      env: { ...CHILD_MALLOC_ENV, ...process.env },
      serialization: 'advanced', // typed arrays (calibration frames) cross without base64
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
  } catch (err) {
    return Promise.reject(new EdgeAgentError(`cannot start the derivation process: ${errorMessage(err)}`));
  }
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString('utf8')).slice(-4000);
  });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);

  return new Promise<DeriveSummary>((resolve, reject) => {
    let outcome: { ok: DeriveSummary } | { error: Error } | undefined;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      aborted = true;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 5000);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.on('message', (message: ChildMessage) => {
      if (message.type === 'progress') options.onProgress?.(message.progress);
      else if (message.type === 'result') outcome = { ok: message.result };
      else {
        const error = new EdgeAgentError(message.message);
        error.name = message.name;
        outcome = { error };
      }
      // The answer is in: a child that does not exit on its own is not left behind.
      if (message.type !== 'progress' && !killTimer)
        killTimer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 5000);
    });
    child.once('error', (err) => {
      outcome ??= { error: new EdgeAgentError(`derivation process: ${errorMessage(err)}`) };
    });
    child.once('exit', (code, signal) => {
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      if (outcome && 'ok' in outcome) return resolve(outcome.ok);
      if (aborted) return reject(new EdgeAgentError('derivation aborted'));
      if (outcome) return reject(outcome.error);
      const last = stderr.trim().split('\n').at(-1);
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      const hint = signal === 'SIGKILL' ? ' — most likely out of memory; the catalog is unchanged' : '';
      reject(
        new EdgeAgentError(
          `the derivation process ${how} before finishing${hint}${last ? ` (${last})` : ''}`,
        ),
      );
    });
    child.send({ type: 'derive', job });
  });
}
