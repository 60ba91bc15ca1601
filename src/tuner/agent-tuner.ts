import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import type { DeviceProfile, LiveSample } from '../hardware/index.js';
import type { Logger } from '../log.js';
import type { Catalog } from '../models/catalog.js';
import type { RunningPipeline } from '../pipeline/types.js';
import type { Store } from '../store/index.js';
import { type BurstStats, pipelineBurstGate } from './burst.js';
import { TunerController } from './controller.js';
import { latestDecision, tunerFromConfig } from './setup.js';
import { catalogueHash, type Tuner } from './tuner.js';
import type { CandidateKey } from './types.js';

/** What the agent hands the tuner (its composition root builds this once the pipeline exists). */
export interface AgentTunerDeps {
  config: AgentConfig;
  profile: () => Promise<DeviceProfile>;
  models: {
    readonly catalog: Catalog;
    reloadCatalog(): Promise<Catalog>;
    active(): { model: string; variant: string; executionProvider?: string } | undefined;
    switchTo(target: {
      variant?: string;
      session?: { threads?: number; executionProvider?: string };
    }): Promise<{ changed: boolean }>;
  };
  pipeline: RunningPipeline;
  store: Store;
  sampler?:
    | {
        on(event: 'sample', l: (s: LiveSample) => void): () => void;
        on(
          event: 'memory-pressure',
          l: (e: { active: boolean; availableBytes?: number }) => void,
        ): () => void;
      }
    | undefined;
  clock: Clock;
  log: Logger;
}

export interface AgentTuner {
  controller: TunerController;
  bursts(): BurstStats;
}

/** Builds the tuner controller of the running agent and connects it to the sampler and the pipeline. */
export function createAgentTuner(deps: AgentTunerDeps): AgentTuner {
  const { config, models, pipeline, store, clock } = deps;
  const log = deps.log.child({ component: 'tuner' });
  let tuner: Promise<Tuner> | undefined;
  let threads = config.inference.threads;
  const burst = pipelineBurstGate(pipeline, { clock, gapMs: config.policy.tuning.pauseBetweenBurstsMs });
  const controller = new TunerController({
    tuner: () => {
      tuner ??= deps.profile().then((profile) =>
        tunerFromConfig({
          config,
          profile,
          catalog: () => models.catalog,
          reloadCatalog: () => models.reloadCatalog(),
          store,
          clock,
          log,
        }),
      );
      return tuner;
    },
    policy: () => config.policy,
    model: () => models.active()?.model ?? config.models.default,
    active: (): CandidateKey | undefined => {
      const a = models.active();
      return a ? { variant: a.variant, executionProvider: a.executionProvider ?? 'cpu', threads } : undefined;
    },
    switchTo: async (choice) => {
      const r = await models.switchTo({
        variant: choice.variant,
        session: { threads: choice.threads, executionProvider: choice.executionProvider },
      });
      threads = choice.threads;
      return r.changed;
    },
    cachedDecision: (t, model) =>
      latestDecision(store, model, t.fingerprint, catalogueHash(models.catalog.model(model))),
    events: store.events,
    gate: burst.gate,
    bursts: burst.stats,
    clock,
    log,
  });
  // Inference alone, against the session's share of the tuned figure (controller.ts, runP95).
  pipeline.onResult((r) => controller.onInference(r.timings.inferenceMs));
  deps.sampler?.on('sample', (s) =>
    controller.onReadings({
      powerSource: s.powerSource,
      batteryPercent: s.batteryPercent,
      throttled: s.throttled,
      temperatureC: s.maxTempC,
    }),
  );
  deps.sampler?.on('memory-pressure', (e) => controller.onMemoryPressure(e.active, e.availableBytes));
  return { controller, bursts: burst.stats };
}
