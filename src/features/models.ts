import { defineCommand, MODEL_LOCK } from '../fleet/router.js';
import { type Measured, modelsView, variantKey } from '../http/models-view.js';
import type { Catalog } from '../models/catalog.js';
import { LatencyWindow } from '../telemetry/percentiles.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';
import type { ResultStream } from './frames.js';

export interface ActiveModelInfo {
  model: string;
  variant: string;
  executionProvider?: string;
}

export interface ModelTarget {
  model?: string | undefined;
  variant?: string | undefined;
}

/** What the models feature drives (src/agent/model-host.ts ModelHost provides it). */
export interface ModelSwitcher {
  /** The current catalog (derived variants appear in it as they are made). */
  readonly catalog: Catalog;
  active(): ActiveModelInfo | undefined;
  /** Loads and verifies the variant, then swaps it in without stopping the pipeline. */
  switchTo(target: ModelTarget): Promise<{ changed: boolean; from: ActiveModelInfo; to: ActiveModelInfo }>;
}

export interface ModelsFeatureDeps {
  models: ModelSwitcher;
  /** The active variant and why (GET /api/decision): the configured choice or a recorded decision. */
  decision(): unknown;
  /** Results of the running pipeline: their inference times fill the models table's latency. */
  results?: ResultStream;
  /** Latency figures measured elsewhere (benchmarks), by `model/variant`. */
  measurements?(): Measured | Promise<Measured>;
  /** Records `model-switched` on the events topic. */
  events?: { emit(type: string, data: Record<string, unknown>): void };
  infoChanged?(): Promise<void>;
  /** Versions installed by signed deployments, for list-models (absent: none shown). */
  deployed?(): readonly DeployedVersion[];
}

/** A version installed by a signed deployment (DeployStore's `deploy_versions` row). */
export interface DeployedVersion {
  model: string;
  /** The deployment series (the manifest's `variant`); the catalog variant is `variantId`. */
  variant: string;
  version: number;
  variantId: string;
  status: string;
}

/**
 * The list-models answer: every model with its variants (bundled and derived; a deployed one
 * carries its `deployedVersion`) and, per deployment series, the installed version.
 */
export function catalogSummary(catalog: Catalog, deployed: readonly DeployedVersion[] = []) {
  return catalog.models().map((m) => {
    const mine = deployed.filter((d) => d.model === m.manifest.name);
    const series = [...new Set(mine.map((d) => d.variant))];
    return {
      name: m.manifest.name,
      task: m.manifest.task,
      defaultVariant: m.manifest.defaultVariant,
      variants: m.variants.map((v) => {
        const d = mine.find((x) => x.variantId === v.id);
        return {
          id: v.id,
          precision: v.precision,
          bytes: v.bytes,
          derived: v.derived,
          ...(d ? { deployedVersion: d.version, deployStatus: d.status } : {}),
        };
      }),
      ...(series.length > 0
        ? {
            deployed: series.map((variant) => {
              const active = mine.find((d) => d.variant === variant && d.status === 'active');
              const previous = mine.find((d) => d.variant === variant && d.status === 'previous');
              return {
                variant,
                installedVersion: active?.version ?? 0,
                ...(active ? { variantId: active.variantId } : {}),
                ...(previous
                  ? { previousVersion: previous.version, previousVariantId: previous.variantId }
                  : {}),
              };
            }),
          }
        : {}),
    };
  });
}

const name = z.string().check(z.minLength(1), z.maxLength(128));

/**
 * Models and variants: list-models and set-model over MQTT, GET /api/models and /api/decision,
 * and the live keys `models.default` / `models.variant` (a hot swap). `models.dir` is not live.
 */
export function modelsFeature(deps: ModelsFeatureDeps): Feature {
  // Latency per variant measured by this agent, for the models table.
  const measured = new Map<string, LatencyWindow>();
  let unsubscribe: (() => void) | undefined;
  return {
    name: 'models',
    commands: {
      'list-models': defineCommand({
        summary: 'Models and variants (bundled, derived, deployed with their versions) and the active one',
        params: z.strictObject({}),
        mutates: false,
        cost: 'light',
        run: () => ({
          active: deps.models.active(),
          models: catalogSummary(deps.models.catalog, deps.deployed?.() ?? []),
        }),
      }),
      'set-model': defineCommand({
        summary: 'Switches to a model/variant (verified, hot-swapped)',
        params: z
          .strictObject({ model: z.optional(name), variant: z.optional(name) })
          .check(
            z.refine(
              (p) => p.model !== undefined || p.variant !== undefined,
              'give "variant", "model" or both',
            ),
          ),
        mutates: true,
        lock: MODEL_LOCK,
        run: async (target: ModelTarget) => {
          const { changed, from, to } = await deps.models.switchTo(target);
          if (changed) {
            deps.events?.emit('model-switched', { from, to });
            await deps.infoChanged?.();
          }
          return { ...to, previous: from };
        },
      }),
    },
    live: [
      {
        prefix: ['models.default', 'models.variant'],
        apply: async (c) => {
          await deps.models.switchTo({ model: c.models.default, variant: c.models.variant });
        },
      },
    ],
    routes: (app) => {
      app.get('/api/decision', async () => deps.decision());
      app.get('/api/models', async () => {
        const catalog = deps.models.catalog;
        const active = deps.models.active();
        const merged = new Map((await deps.measurements?.()) ?? []);
        for (const [k, w] of measured) merged.set(k, w.latency());
        const current = { model: active?.model ?? '', variant: active?.variant ?? '' };
        return {
          active: current,
          models: modelsView(catalog.models(), current, merged),
        };
      });
    },
    start: () => {
      unsubscribe = deps.results?.onResult((r) => {
        const key = variantKey(r.model, r.variant);
        const w = measured.get(key) ?? new LatencyWindow(256, { keep: 'recent' });
        measured.set(key, w);
        w.add(r.timings.inferenceMs);
      });
    },
    stop: () => {
      unsubscribe?.();
      unsubscribe = undefined;
    },
  };
}
