import type { RawImage } from '../../image/types.js';
import type { Logger } from '../../log.js';
import { manifestSchemas } from '../../models/manifest.js';
import { loadFrames } from '../../optimize/evaluation/frames.js';
import { DeployError } from './errors.js';
import { type ComparisonRules, comparisonVerdict, DEFAULT_COMPARISON_RULES } from './health.js';
import type { DeployManifest } from './manifest.js';
import {
  compareInChild,
  decoderOutputs,
  type ModelView,
  outputMismatch,
  type ValidationResult,
  validateInChild,
} from './validate.js';

/** The tuner's figure for the installed variant: the candidate it would run and its measured p95. */
export interface TunedChoice {
  p95Ms: number;
  /** e.g. "slim-v2 cpu ×2". */
  label: string;
  /** The serving variant's p95 from the same measurement (same model only): the fair baseline. */
  servingP95Ms?: number | undefined;
  /** The tuner's own decision record, handed back to `adoptTuned`. */
  decision: unknown;
}

/** Frames kept from the live pipeline until stopped. */
export interface FrameCollector {
  /** Stops collecting; the frames kept (the same ones on every call). */
  stop(): Promise<RawImage[]>;
  /**
   * p95 inference latency of the window's own results, without the first few after the switch
   * (a new session's warm-up); undefined when too few.
   */
  latencyP95Ms?(): number | undefined;
}

/** Results right after a switch that are not judged (the new session's first inferences are slow). */
export const WARMUP_RESULTS = 3;

/**
 * What the deployment's checks need from the agent (all optional: without them validation runs on
 * a bundled sample image, nothing is tuned and the health window judges errors and latency only).
 */
export interface DeployChecks {
  /** A recent camera frame (undefined when there is none yet). */
  recentFrame?(): Promise<RawImage | undefined>;
  /** Keeps up to `count` live frames, at least `spacingMs` apart, until stopped. */
  collectFrames?(count: number, spacingMs: number): FrameCollector;
  /** How a catalog model's variant is fed and read (variant absent: the model's own input spec), and its file. */
  describe?(model: string, variant?: string): Promise<(ModelView & { file?: string }) | undefined>;
  /**
   * The tuner measures the installed variant's candidates in child processes (and the serving
   * variant's, when it is of the same model, for a baseline measured alike); nothing switches.
   */
  tune?(
    model: string,
    variantId: string,
    serving: { model: string; variant: string } | undefined,
  ): Promise<TunedChoice | undefined>;
  /** Once switched: the tuner adopts its choice (session) and keeps to the variant while it serves. */
  adoptTuned?(model: string, choice: TunedChoice): Promise<void>;
  /** The variant the tuner must keep to during a deployment's window (undefined: the deployment ended). */
  pin?(target: { model: string; variant: string } | undefined): void;
}

export interface CheckLimits {
  validateTimeoutMs: number;
  validateHeapMB: number;
  /** Native memory cap of the validation and comparison children (RLIMIT_DATA + resident watch). */
  validateMemoryMB?: number;
  /** Live frames the health comparison runs on. */
  compareFrames?: number;
  /** The tuner's p95 for the new variant above the serving variant's × this → refused. */
  maxSlowdown?: number;
  minFidelity?: number;
  collapseRatio?: number;
}

export interface CheckContext {
  checks: DeployChecks | undefined;
  limits: CheckLimits;
  signal: AbortSignal;
  log: Logger;
}

/** How the deployed file is to be fed and read: the deployment's model manifest, else the catalog's. */
export async function deployedView(m: DeployManifest, ctx: CheckContext): Promise<ModelView | undefined> {
  if (m.manifest)
    return {
      task: m.manifest.task,
      input: manifestSchemas().inputSpecSchema.parse(m.manifest.input),
      decoder: m.manifest.decoder,
      labels: m.manifest.labels,
    };
  return ctx.checks?.describe?.(m.model);
}

async function validationFrame(ctx: CheckContext): Promise<{ frame: RawImage; from: string } | undefined> {
  try {
    const live = await ctx.checks?.recentFrame?.();
    if (live) return { frame: live, from: 'a recent camera frame' };
  } catch (err) {
    ctx.log.debug({ err: (err as Error).message }, 'no recent frame for validation');
  }
  const sample = await loadFrames(undefined, { limit: 1 });
  return sample.images[0] ? { frame: sample.images[0], from: 'a bundled sample image' } : undefined;
}

/**
 * Step 4: loads and runs the file in a child (time, V8 heap and native memory limits) on a recent
 * frame preprocessed as the model's manifest says; its outputs must match the deployment
 * manifest's names/shapes and include what the model's decoder reads.
 */
export async function validateDeployed(
  file: string,
  m: DeployManifest,
  ctx: CheckContext,
): Promise<ValidationResult & { frameFrom?: string }> {
  const view = await deployedView(m, ctx);
  const frame = view ? await validationFrame(ctx) : undefined;
  const result = await validateInChild(file, {
    timeoutMs: ctx.limits.validateTimeoutMs,
    maxHeapMB: ctx.limits.validateHeapMB,
    memoryMB: ctx.limits.validateMemoryMB,
    signal: ctx.signal,
    frame: frame?.frame,
    model: view,
  });
  const mismatch = outputMismatch(result.outputs, m.outputs);
  if (mismatch) throw new DeployError('validate', mismatch);
  if (view)
    for (const name of decoderOutputs(view.decoder))
      if (!result.outputs.some((o) => o.name === name))
        throw new DeployError(
          'validate',
          `the ${view.decoder.type} decoder reads output "${name}", which the model lacks`,
        );
  return { ...result, ...(frame ? { frameFrom: frame.from } : {}) };
}

/**
 * Before the switch: the tuner measures the new variant; one measured slower than the serving
 * variant × maxSlowdown is refused here, the previous model never stops serving.
 */
export async function tuneDeployed(
  m: DeployManifest,
  variantId: string,
  serving: { model: string; variant: string } | undefined,
  servingFigureMs: number | undefined,
  ctx: CheckContext,
): Promise<TunedChoice | undefined> {
  if (!ctx.checks?.tune) return undefined;
  const choice = await ctx.checks.tune(m.model, variantId, serving);
  if (!choice)
    throw new DeployError('tune', `the tuner found no runnable candidate of ${m.model}/${variantId}`);
  const max = m.health?.maxSlowdown ?? ctx.limits.maxSlowdown ?? 3;
  const servingP95Ms = choice.servingP95Ms ?? servingFigureMs;
  if (servingP95Ms !== undefined && choice.p95Ms > servingP95Ms * max)
    throw new DeployError(
      'tune',
      `the tuner measured p95 ${choice.p95Ms.toFixed(1)} ms for ${choice.label}, ${(choice.p95Ms / servingP95Ms).toFixed(1)}× the serving variant's ${servingP95Ms.toFixed(1)} ms (allowed ×${max})`,
    );
  return choice;
}

/**
 * After the health window: the previous and the new variant run on the same live frames (kept
 * during the window) in a child; collapsed detections or fidelity below the floor → a reason to
 * roll back. Skipped (with a note) when there is nothing comparable: another task or labels, no
 * frames, no previous model.
 */
export async function compareWithPrevious(
  previous: { model: string; variant: string } | undefined,
  next: { model: string; variant: string },
  frames: readonly RawImage[],
  m: DeployManifest,
  ctx: CheckContext,
): Promise<{ ok: true; detail: string } | { ok: false; reason: string }> {
  const describe = ctx.checks?.describe;
  if (!previous || !describe) return { ok: true, detail: 'no previous variant to compare with' };
  if (frames.length === 0) return { ok: true, detail: 'no live frames in the window to compare on' };
  const [prev, now] = await Promise.all([
    describe(previous.model, previous.variant),
    describe(next.model, next.variant),
  ]);
  if (!prev?.file || !now?.file) return { ok: true, detail: 'a variant file is unknown; not compared' };
  if (prev.task !== now.task || prev.labels.join('\n') !== now.labels.join('\n'))
    return { ok: true, detail: `not comparable with ${previous.model} (another task or labels)` };
  const report = await compareInChild(
    { file: prev.file, model: prev },
    { file: now.file, model: now },
    frames,
    {
      timeoutMs: ctx.limits.validateTimeoutMs,
      maxHeapMB: ctx.limits.validateHeapMB,
      memoryMB: ctx.limits.validateMemoryMB,
      signal: ctx.signal,
    },
  );
  const rules: ComparisonRules = {
    ...DEFAULT_COMPARISON_RULES,
    ...(ctx.limits.minFidelity !== undefined ? { minFidelity: ctx.limits.minFidelity } : {}),
    ...(ctx.limits.collapseRatio !== undefined ? { collapseRatio: ctx.limits.collapseRatio } : {}),
    ...(m.health?.minFidelity !== undefined ? { minFidelity: m.health.minFidelity } : {}),
    ...(m.health?.collapseRatio !== undefined ? { collapseRatio: m.health.collapseRatio } : {}),
  };
  return comparisonVerdict(report, rules);
}
