import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { defineCommand, MODEL_LOCK } from '../fleet/router.js';
import type { Logger } from '../log.js';
import { confineCalibrationDir } from '../optimize/evaluation/calibration-dir.js';
import { type FrameSource as CalibrationSource, defaultFramesDir } from '../optimize/evaluation/frames.js';
import { deriveInChildProcess } from '../optimize/process/derive-process.js';
import type { ProgressFn } from '../optimize/progress.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';
import { need } from './feature.js';
import { copyOfContent, nextFrames, type ResultStream } from './frames.js';
import type { ActiveModelInfo } from './models.js';

export interface DeriveRequest {
  model?: string | undefined;
  from?: string | undefined;
  method: string;
  options?: Record<string, unknown> | undefined;
}

export type DeriveFn = (
  request: DeriveRequest,
  progress: (data: Record<string, unknown>) => void,
) => Promise<unknown>;

const name = z.string().check(z.minLength(1), z.maxLength(128));

/** `derive` over MQTT (progress as `derive-progress` events); answers "not available" without an optimizer. */
export function deriveFeature(deps: { derive?: DeriveFn | undefined }): Feature {
  return {
    name: 'derive',
    commands: {
      derive: defineCommand({
        summary: 'Derives a variant (quantize, fp16, prune, ...) with progress events',
        params: z.strictObject({
          model: z.optional(name),
          from: z.optional(name),
          method: name,
          options: z.optional(z.record(z.string(), z.unknown())),
        }),
        mutates: true,
        lock: MODEL_LOCK, // minutes long: beside the line of state changes, refused during a tune
        long: true,
        run: (request: DeriveRequest, ctx) =>
          need(deps.derive, 'derive (model optimizer)')(request, ctx.progress),
      }),
    },
  };
}

/** What a derivation on the running agent uses. */
export interface DerivationParts {
  config: AgentConfig;
  models: { active(): ActiveModelInfo | undefined; reloadCatalog(): Promise<unknown> };
  /** The running pipeline's results: calibration frames from the camera. */
  results?: ResultStream | undefined;
  clock: Clock;
  log: Logger;
  /** Aborted when the agent stops: the derivation child is killed. */
  signal: AbortSignal;
  events?: { emit(type: string, data: Record<string, unknown>): void };
  infoChanged?(): Promise<void>;
  /** A variant was added to the catalogue (the tuner measures it and re-decides). */
  derived?(model: string, variant: string): void;
}

/**
 * `derive` on the agent: `options.calibration` is `"camera"` (the next frames of the running camera,
 * one every 0.5 s — the default while the pipeline runs), `"samples"` (the bundled photos) or a
 * folder on the device (relative to the data directory). The frames calibrate int8 and measure
 * the fidelity of the result, so it is judged on what this camera sees. Other options are the
 * method's parameters.
 */
export function agentDerivation(parts: DerivationParts): DeriveFn {
  return async (request, progress) => {
    const { parseMethod } = await import('../optimize/methods/index.js');
    const method = parseMethod(request.method);
    const { calibration = 'camera', ...params } = (request.options ?? {}) as {
      calibration?: string;
    } & Record<string, unknown>;
    // int8-static's `frames` (calibration frames used) also sets how many camera frames are taken.
    const frames =
      typeof params.frames === 'number' ? Math.min(Math.max(1, Math.round(params.frames)), 64) : 16;
    const modelName = request.model ?? parts.models.active()?.model ?? parts.config.models.default;
    let source: CalibrationSource | undefined;
    if (calibration === 'camera' && parts.results) {
      progress({ stage: 'collect-frames', total: frames });
      const taken = await nextFrames(parts.results, frames, 500, 120_000, parts.clock, copyOfContent);
      source = { images: taken.map((t) => t.image!), names: taken.map((t) => `camera-${t.frame.seq}`) };
    } else if (calibration !== 'samples' && calibration !== 'camera') {
      // Confined to the data directory and the bundled samples (issue 12 item 1).
      source = {
        dir: confineCalibrationDir(calibration, {
          dataDir: parts.config.dataDir,
          samplesDir: defaultFramesDir(),
        }),
      };
    }
    // In a child process: the agent keeps serving, and gets every byte back afterwards.
    const result = await deriveInChildProcess(
      {
        modelsDir: parts.config.models.dir,
        dataDir: parts.config.dataDir,
        model: modelName,
        method,
        params,
        ...(request.from ? { source: request.from } : {}),
        ...(source ? { calibration: source } : {}),
        threads: 1,
      },
      {
        signal: parts.signal,
        onProgress: throttledProgress(progress, parts.clock),
        onSpawn: (pid) => parts.log.info({ pid, model: modelName, method }, 'derivation process started'),
      },
    );
    await parts.models.reloadCatalog();
    parts.events?.emit('variant-derived', { model: modelName, variant: result.variant.id, method });
    parts.derived?.(modelName, result.variant.id);
    await parts.infoChanged?.();
    return result;
  };
}

/**
 * Progress goes through the outbox as events: a stage change or the end of a stage always, and
 * otherwise at most one a second, so a sensitivity search does not queue thousands of rows.
 */
export function throttledProgress(
  publish: (data: Record<string, unknown>) => void,
  clock: Clock,
  everyMs = 1000,
): ProgressFn {
  let lastStage = '';
  let lastAt = Number.NEGATIVE_INFINITY;
  return (p) => {
    const now = clock.now();
    const boundary = p.stage !== lastStage || (p.total !== undefined && p.done === p.total);
    if (!boundary && now - lastAt < everyMs) return;
    lastStage = p.stage;
    lastAt = now;
    publish({ ...p });
  };
}
