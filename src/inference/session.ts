import { createRequire } from 'node:module';
import type * as ort from 'onnxruntime-node';
import { errorMessage, ModelLoadError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ExecutionProvider } from './providers.js';
import { disableOnnxruntimeTelemetry } from './telemetry-off.js';

export type { ExecutionProvider } from './providers.js';

export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

export interface SessionOptions {
  /** Intra-op threads; 0 or undefined lets onnxruntime decide. */
  threads?: number;
  /** Tried in order; CPU is always appended as the last resort. */
  executionProviders?: readonly ExecutionProvider[];
  graphOptimization?: GraphOptimization;
  /**
   * Idle intra-op threads spin by default; when several sessions share the CPU (tuning while
   * serving) that costs 3-5× in throughput, so callers can turn it off.
   */
  allowSpinning?: boolean;
  /** Writes the optimised graph here (to see which kernels onnxruntime fused). */
  optimizedModelFilePath?: string;
  /**
   * false: no CPU memory arena either — each tensor is allocated from malloc when produced and freed
   * after its last use. For one-off sessions (shape probes, calibration); a session serving frames
   * keeps the arena (without it every run maps and faults its activations anew: +20–60 % CPU per
   * frame measured). Sessions on the CPU never use onnxruntime's memory pattern (see
   * sessionOptionsFor).
   */
  memoryArena?: boolean;
}

export interface OpenedSession {
  session: ort.InferenceSession;
  /** The execution provider the session ended up with. */
  executionProvider: ExecutionProvider;
  /** Providers that were tried and refused, with onnxruntime's reason. */
  rejected: Array<{ provider: ExecutionProvider; reason: string }>;
  createMs: number;
}

/**
 * Creates an onnxruntime session, trying the requested execution providers in order and falling
 * back to CPU with the reason logged (a Jetson without the CUDA libraries still runs).
 */
export async function openSession(
  model: Uint8Array | string,
  options: SessionOptions = {},
  log?: Logger,
): Promise<OpenedSession> {
  const wanted = [...(options.executionProviders ?? ['cpu'])];
  if (!wanted.includes('cpu')) wanted.push('cpu');
  const rejected: OpenedSession['rejected'] = [];
  for (const provider of wanted) {
    const started = performance.now();
    try {
      const session = await createWith(model, provider, options);
      if (rejected.length > 0) {
        log?.warn({ executionProvider: provider, rejected }, 'execution provider fallback');
      }
      return { session, executionProvider: provider, rejected, createMs: performance.now() - started };
    } catch (err) {
      rejected.push({ provider, reason: errorMessage(err) });
      if (provider === 'cpu') break;
    }
  }
  const what = typeof model === 'string' ? model : 'model';
  throw new ModelLoadError(
    `${what}: onnxruntime cannot load it (${rejected.map((r) => `${r.provider}: ${r.reason}`).join('; ')})`,
  );
}

/** onnxruntime's session options for one execution provider (also sent to inference workers). */
export function sessionOptionsFor(
  provider: ExecutionProvider,
  options: SessionOptions,
): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: [provider],
    graphOptimizationLevel: options.graphOptimization ?? 'all',
    // Level 3 = errors only: old exports (UltraFace) warn once per weight listed as an input.
    logSeverityLevel: 3,
    ...(options.threads ? { intraOpNumThreads: options.threads, interOpNumThreads: 1 } : {}),
    ...(options.optimizedModelFilePath ? { optimizedModelFilePath: options.optimizedModelFilePath } : {}),
    // The memory pattern plans one block for all of a run's activations after the first run; the
    // arena keeps the first run's regions besides it, touched and unused, for the session's life.
    // Without the pattern the arena serves each tensor from what it already holds: 1.5 MB (slim-320)
    // to 4 MB (YOLOX-nano) less RSS, the same outputs bit for bit, latency within the spread
    // (docs/memory.md, eighth round). Measured on the CPU only: other providers keep the default.
    ...(provider === 'cpu' || options.memoryArena === false ? { enableMemPattern: false } : {}),
    ...(options.memoryArena === false ? { enableCpuMemArena: false } : {}),
    ...(options.allowSpinning === false
      ? { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }
      : {}),
  };
}

async function createWith(
  model: Uint8Array | string,
  provider: ExecutionProvider,
  options: SessionOptions,
): Promise<ort.InferenceSession> {
  // Loaded on first use: the agent's own sessions live in another thread (serve-session.mjs).
  disableOnnxruntimeTelemetry();
  const { InferenceSession } = await import('onnxruntime-node');
  const sessionOptions = sessionOptionsFor(provider, options);
  return typeof model === 'string'
    ? InferenceSession.create(model, sessionOptions)
    : InferenceSession.create(model, sessionOptions);
}

/** onnxruntime-node's version, read from its package.json (without loading the native binding). */
export function onnxruntimeVersion(): string {
  const pkg = createRequire(import.meta.url)('onnxruntime-node/package.json') as { version?: string };
  return pkg.version ?? 'unknown';
}
