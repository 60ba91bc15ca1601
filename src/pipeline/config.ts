import type { AgentConfig } from '../config/index.js';
import { type Pacing, pacingSchema } from './pacing-schema.js';

/** The pipeline pacing a `pipeline` config section asks for. */
export function pacingFromConfig(p: AgentConfig['pipeline']): Pacing {
  return pacingSchema.parse(
    p.mode === 'continuous'
      ? { mode: 'continuous', ...(p.fps ? { fps: p.fps } : {}) }
      : {
          mode: 'duty-cycle',
          intervalS: p.intervalS,
          releaseCamera: p.releaseCamera,
          warmupFrames: p.warmupFrames,
        },
  );
}
