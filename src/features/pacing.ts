import type { AgentConfig } from '../config/index.js';
import { defineCommand } from '../fleet/router.js';
import { pacingFromConfig } from '../pipeline/config.js';
import type { Pacing } from '../pipeline/pacing.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';
import { need } from './feature.js';

/** What pacing changes on the pipeline (the Pipeline class provides it). */
export interface PacedPipeline {
  setPacing(pacing: Pacing): void;
  stats(): { pacing: unknown };
}

export interface PacingFeatureDeps {
  /** Absent when this build or run has no pipeline: set-fps answers "not available". */
  pipeline?: PacedPipeline | undefined;
  /** The `pipeline` section the agent started with (set-fps keeps its other settings). */
  config: AgentConfig['pipeline'];
}

/** How often the pipeline runs: `set-fps` over MQTT and the live key `pipeline`. */
export function pacingFeature(deps: PacingFeatureDeps): Feature {
  return {
    name: 'pacing',
    commands: {
      'set-fps': defineCommand({
        summary: 'Changes the target frame rate live',
        params: z.strictObject({ fps: z.number().check(z.positive(), z.maximum(240)) }),
        mutates: true,
        run: ({ fps }: { fps: number }) => {
          const pipeline = need(deps.pipeline, 'set-fps (pipeline rate control)');
          pipeline.setPacing(pacingFromConfig({ ...deps.config, mode: 'continuous', fps }));
          return { fps, result: { fps, pacing: pipeline.stats().pacing } };
        },
      }),
    },
    live: [{ prefix: 'pipeline', apply: (c) => deps.pipeline?.setPacing(pacingFromConfig(c.pipeline)) }],
  };
}
