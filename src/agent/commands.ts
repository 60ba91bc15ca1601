import path from 'node:path';
import type { Frame } from '../camera/types.js';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { EdgeAgentError } from '../errors.js';
import {
  type CommandDeps,
  catalogSummary,
  type DeriveRequest,
  type SnapshotImage,
} from '../fleet/commands.js';
import type { ConfigStore } from '../fleet/config-patch.js';
import type { FleetService } from '../fleet/service.js';
import { annotateFrame } from '../http/annotate.js';
import type { RawImage } from '../image/types.js';
import type { Logger } from '../log.js';
import type { FrameSource as CalibrationSource } from '../optimize/evaluation/frames.js';
import { deriveInChildProcess } from '../optimize/process/derive-process.js';
import type { ProgressFn } from '../optimize/progress.js';
import { pacingFromConfig } from '../pipeline/config.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import { contentImage } from '../pipeline/prepare.js';
import type { FrameResult } from '../pipeline/types.js';
import type { Store } from '../store/index.js';
import type { TelemetryReporter } from '../telemetry/reporter.js';
import type { ModelHost } from './model-host.js';

/** What the command handlers reach in the running agent (filled in by the composition root). */
export interface CommandContext {
  config: AgentConfig;
  deviceId: string;
  version: string;
  startedAtMs: number;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  models: ModelHost;
  pipeline(): Pipeline | undefined;
  store(): Store | undefined;
  telemetry(): TelemetryReporter | undefined;
  fleet(): FleetService | undefined;
  configStore(): ConfigStore;
  latest(): { result: FrameResult; frame: Frame } | undefined;
  profile(): Promise<unknown>;
  restart(reason: string): void;
}

/**
 * Resolves with the next `count` inferred frames (results and pixels), taken at least
 * `spacingMs` apart, or rejects after `timeoutMs`.
 */
export function nextFrames(
  pipeline: Pipeline,
  count: number,
  spacingMs: number,
  timeoutMs: number,
  clock: Clock,
  transform: (result: FrameResult, frame: Frame) => RawImage | undefined = () => undefined,
): Promise<Array<{ result: FrameResult; frame: Frame; image: RawImage | undefined }>> {
  return new Promise((resolve, reject) => {
    const taken: Array<{ result: FrameResult; frame: Frame; image: RawImage | undefined }> = [];
    let lastAt = Number.NEGATIVE_INFINITY;
    const timer = setTimeout(() => {
      off();
      reject(
        new EdgeAgentError(`only ${taken.length} of ${count} frames arrived within ${timeoutMs / 1000} s`),
      );
    }, timeoutMs);
    const off = pipeline.onResult((result, frame) => {
      const now = clock.now();
      if (now - lastAt < spacingMs) return;
      lastAt = now;
      // Copy what is needed now: frame buffers are reused once the listener returns.
      taken.push({ result, frame, image: transform(result, frame) });
      if (taken.length >= count) {
        clearTimeout(timer);
        off();
        resolve(taken);
      }
    });
  });
}

/** The camera image of a frame as an RGB copy that outlives the frame buffer. */
function copyOfContent(_result: FrameResult, frame: Frame): RawImage {
  const { image } = contentImage(frame);
  return image.data === frame.data ? { ...image, data: Uint8Array.from(image.data) } : image;
}

async function snapshot(
  ctx: CommandContext,
  options: { quality: number; annotate: boolean },
): Promise<SnapshotImage> {
  const pipeline = ctx.pipeline();
  if (!pipeline) throw new EdgeAgentError('the pipeline is not running');
  let pair: { result: FrameResult; frame: Frame } | undefined;
  try {
    // A fresh frame when one comes soon; else the newest kept one (duty cycle, stalled camera).
    const [next] = await nextFrames(pipeline, 1, 0, 3000, ctx.clock, copyOfContent);
    if (next?.image)
      pair = { result: next.result, frame: { ...next.frame, ...next.image, prepared: undefined } };
  } catch {
    pair = ctx.latest();
  }
  if (!pair || pair.frame.data.byteLength === 0) throw new EdgeAgentError('no frame has been captured yet');
  const result = options.annotate ? pair.result : { ...pair.result, detections: [], classes: [] };
  const jpeg = await annotateFrame(pair.frame, result, { quality: options.quality, maxWidth: 1920 });
  const sourceWidth = pair.frame.prepared?.sourceWidth ?? pair.frame.width;
  const sourceHeight = pair.frame.prepared?.sourceHeight ?? pair.frame.height;
  return {
    jpeg,
    width: sourceWidth,
    height: sourceHeight,
    capturedAtMs: pair.result.capturedAtMs,
    model: pair.result.model,
    variant: pair.result.variant,
  };
}

/**
 * `derive` over MQTT: `options.calibration` is `"camera"` (the next frames of the running camera,
 * one every 0.5 s — the default while the pipeline runs), `"samples"` (the bundled photos) or a
 * folder on the device (relative to the data directory). The frames calibrate int8 and measure
 * the fidelity of the result, so it is judged on what this camera sees. Other options are the
 * method's parameters.
 */
async function deriveCommand(
  ctx: CommandContext,
  request: DeriveRequest,
  progress: (data: Record<string, unknown>) => void,
): Promise<unknown> {
  const { parseMethod } = await import('../optimize/methods.js');
  const method = parseMethod(request.method);
  const { calibration = 'camera', ...params } = (request.options ?? {}) as { calibration?: string } & Record<
    string,
    unknown
  >;
  // int8-static's `frames` (calibration frames used) also sets how many camera frames are taken.
  const frames =
    typeof params.frames === 'number' ? Math.min(Math.max(1, Math.round(params.frames)), 64) : 16;
  const modelName = request.model ?? ctx.models.active()?.model ?? ctx.config.models.default;
  let source: CalibrationSource | undefined;
  const pipeline = ctx.pipeline();
  if (calibration === 'camera' && pipeline) {
    progress({ stage: 'collect-frames', total: frames });
    const taken = await nextFrames(pipeline, frames, 500, 120_000, ctx.clock, copyOfContent);
    source = { images: taken.map((t) => t.image!), names: taken.map((t) => `camera-${t.frame.seq}`) };
  } else if (calibration !== 'samples' && calibration !== 'camera') {
    source = { dir: path.resolve(ctx.config.dataDir, calibration) };
  }
  // In a child process: the agent keeps serving, and gets every byte back afterwards.
  const result = await deriveInChildProcess(
    {
      modelsDir: ctx.config.models.dir,
      dataDir: ctx.config.dataDir,
      model: modelName,
      method,
      params,
      ...(request.from ? { source: request.from } : {}),
      ...(source ? { calibration: source } : {}),
      threads: 1,
    },
    {
      signal: ctx.signal,
      onProgress: throttledProgress(progress, ctx.clock),
      onSpawn: (pid) => ctx.log.info({ pid, model: modelName, method }, 'derivation process started'),
    },
  );
  await ctx.models.reloadCatalog();
  ctx.store()?.events.emit('variant-derived', { model: modelName, variant: result.variant.id, method });
  await ctx.fleet()?.publishInfo();
  return result;
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

export function buildCommandDeps(ctx: CommandContext): CommandDeps {
  return {
    status: () => ({
      deviceId: ctx.deviceId,
      version: ctx.version,
      uptimeS: Math.round((ctx.clock.now() - ctx.startedAtMs) / 1000),
      active: ctx.models.active(),
      pipeline: ctx.pipeline()?.stats(),
      lastResultAt: ctx.latest() ? new Date(ctx.latest()!.result.capturedAtMs).toISOString() : null,
      telemetry: ctx.telemetry()?.latest() ?? null,
      outbox: ctx.store()?.outbox.stats(),
      mqtt: ctx.fleet()?.status(),
    }),
    config: {
      get: () => ctx.configStore().effective(),
      set: async (patch) => {
        const result = await ctx.configStore().set(patch);
        await ctx.fleet()?.publishInfo();
        return result;
      },
    },
    models: {
      list: () => catalogSummary(ctx.models.catalog),
      active: () => ctx.models.active(),
      set: async (target) => {
        const { changed, from, to } = await ctx.models.switchTo(target);
        if (changed) {
          ctx.store()?.events.emit('model-switched', { from, to });
          await ctx.fleet()?.publishInfo();
        }
        return { ...to, previous: from };
      },
    },
    restart: (reason) => ctx.restart(reason),
    profile: () => ctx.profile(),
    derive: (request, progress) => deriveCommand(ctx, request, progress),
    snapshot: (options) => snapshot(ctx, options),
    setFps: (fps) => {
      const pipeline = ctx.pipeline();
      if (!pipeline) throw new EdgeAgentError('the pipeline is not running');
      pipeline.setPacing(pacingFromConfig({ ...ctx.config.pipeline, mode: 'continuous', fps }));
      return { fps, pacing: pipeline.stats().pacing };
    },
  };
}
