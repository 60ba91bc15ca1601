import { describeCatalogVariant } from '../features/deploy.js';
import { copyOfContent, type ResultStream } from '../features/frames.js';
import {
  type DeployChecks,
  type FrameCollector,
  type TunedChoice,
  WARMUP_RESULTS,
} from '../fleet/deploy/checks.js';
import { loadSharp } from '../image/sharp.js';
import type { RawImage } from '../image/types.js';
import type { Logger } from '../log.js';
import type { TunerController } from '../tuner/controller.js';
import { candidateLabel, type Decision, sameCandidate } from '../tuner/types.js';
import type { AgentParts } from './features.js';

/** Frames kept for the health comparison are scaled down to this width (models take far less). */
export const KEPT_FRAME_WIDTH = 640;

/** A copy of the frame no wider than KEPT_FRAME_WIDTH (sharp, off the event loop). */
async function shrink(image: RawImage): Promise<RawImage> {
  if (image.width <= KEPT_FRAME_WIDTH) return image;
  // Loaded on first use: a device that never deploys never maps libvips (docs/memory.md).
  const sharp = await loadSharp();
  const { data, info } = await sharp(image.data, {
    raw: { width: image.width, height: image.height, channels: 3 },
  })
    .resize({ width: KEPT_FRAME_WIDTH })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
    channels: 3,
  };
}

/**
 * Keeps up to `count` live frames (copies of the newest inferred frame, taken every `spacingMs`,
 * scaled down to 640 px wide) until stopped, and the window's inference latencies after the
 * warm-up. Pixels are asked for only at those moments (`latestFrame`), never per result.
 */
export function collectLiveFrames(
  pipeline: Pick<ResultStream, 'onResult' | 'latestFrame'>,
  count: number,
  spacingMs: number,
): FrameCollector {
  const kept: Array<Promise<RawImage | undefined>> = [];
  const latencies: number[] = [];
  const taken = new Set<number>();
  let seen = 0;
  let off: (() => void) | undefined = pipeline.onResult((result) => {
    seen += 1;
    if (seen > WARMUP_RESULTS) latencies.push(result.timings.inferenceMs);
  });
  let got = 0;
  const take = () => {
    if (got >= count || kept.length >= count * 3) return;
    kept.push(
      pipeline
        .latestFrame()
        .then(async (pair) => {
          // The first results after the switch may still be the previous variant's frames.
          if (!pair || seen === 0 || taken.has(pair.result.seq)) return undefined;
          taken.add(pair.result.seq);
          got += 1;
          const copy = copyOfContent(pair.result, pair.frame);
          return shrink(copy).catch(() => copy);
        })
        .catch(() => undefined),
    );
  };
  // Twice per spacing: a tick that finds the frame already taken (a slow pipeline) has another chance.
  const timer = setInterval(take, Math.max(50, Number.isFinite(spacingMs) ? spacingMs / 2 : 1000));
  timer.unref?.();
  return {
    stop: async () => {
      off?.();
      off = undefined;
      clearInterval(timer);
      return (await Promise.all(kept)).filter((f): f is RawImage => f !== undefined).slice(0, count);
    },
    latencyP95Ms: () => {
      if (latencies.length === 0) return undefined;
      const sorted = [...latencies].sort((a, b) => a - b);
      return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)];
    },
  };
}

/** The tuner's figure for one variant of a decision: the chosen candidate's p95, else its best measured. */
export function tunedChoice(d: Decision, variant: string, serving?: string): TunedChoice | undefined {
  const ok = (v: string) =>
    d.candidates
      .filter((c) => c.variant === v && c.status === 'ok' && c.latencyMs)
      .sort((a, b) => a.latencyMs!.p95 - b.latencyMs!.p95);
  const mine = ok(variant);
  const chosen = mine.find((c) => sameCandidate(c, d.chosen)) ?? mine[0];
  if (!chosen?.latencyMs) return undefined;
  const servingBest = serving && serving !== variant ? ok(serving)[0]?.latencyMs?.p95 : undefined;
  return {
    p95Ms: chosen.latencyMs.p95,
    label: candidateLabel(chosen),
    ...(servingBest !== undefined ? { servingP95Ms: servingBest } : {}),
    decision: { ...d, chosen, candidates: d.candidates.filter((c) => c.variant === variant) },
  };
}

/** The deployment checks of the running agent: live frames, catalog views, the tuner (docs/fleet-security.md). */
export function agentDeployChecks(
  parts: AgentParts,
  tuner: TunerController | undefined,
  /** Committed deployed versions (the store's `active` rows): their variants stay pinned. */
  committed: () => Array<{ model: string; variantId: string; installedAt: number }>,
  log: Logger,
): DeployChecks & { restorePins(): void } {
  const { models, pipeline } = parts;
  let beforeAdopt: { decision: Decision | undefined } | undefined;
  /** Each model's newest committed deployed variant is pinned; nothing else. */
  const restorePins = () => {
    if (!tuner) return;
    const newest = new Map<string, { variantId: string; installedAt: number }>();
    for (const v of committed())
      if ((newest.get(v.model)?.installedAt ?? -1) < v.installedAt) newest.set(v.model, v);
    for (const m of models.catalog.names()) tuner.pin(m, newest.get(m)?.variantId);
  };
  return {
    restorePins,
    recentFrame: async () => {
      const pair = await pipeline.latestFrame();
      return pair ? copyOfContent(pair.result, pair.frame) : undefined;
    },
    collectFrames: (count, spacingMs) => collectLiveFrames(pipeline, count, spacingMs),
    describe: (model, variant) => describeCatalogVariant(models.catalog, model, variant),
    ...(tuner
      ? {
          tune: async (
            model: string,
            variantId: string,
            serving: { model: string; variant: string } | undefined,
          ) => {
            const alike = serving?.model === model ? serving.variant : undefined;
            // A tune already running (another trigger) answers for itself: ask again after it.
            for (let attempt = 0; attempt < 2; attempt++) {
              const d = await tuner.tune({
                trigger: `deploy ${model}/${variantId}`,
                model,
                variants: alike ? [variantId, alike] : [variantId],
                apply: false,
              });
              if (d?.model === model && d.candidates.some((c) => c.variant === variantId))
                return tunedChoice(d, variantId, alike);
            }
            return undefined;
          },
          adoptTuned: async (model: string, choice: TunedChoice) => {
            const d = choice.decision as Decision;
            beforeAdopt = { decision: tuner.current() };
            if (models.active()?.model === model) await tuner.adopt(d, `deploy ${model}: tuned`);
          },
          // During a deployment its variant; after it (committed or not) the committed ones.
          pin: (target: { model: string; variant: string } | undefined) => {
            if (target) tuner.pin(target.model, target.variant);
            else {
              restorePins();
              // Rolled back: the decision in force before the deployment's is in force again.
              if (beforeAdopt) tuner.reinstate(beforeAdopt.decision);
            }
            beforeAdopt = undefined;
            log.debug({ target }, 'tuner pin');
          },
        }
      : {}),
  };
}
