import type { AgentConfig } from '../config/index.js';
import { EdgeAgentError } from '../errors.js';
import { pacingFromConfig } from '../pipeline/config.js';
import { describePacing, type Pacing } from '../pipeline/pacing.js';
import { OBJECTIVE_IDS, type ObjectiveId } from '../tuner/objectives.js';
import * as z from '../zod.js';

/** What the controls change on the pipeline (the Pipeline class provides it). */
export interface ControlledPipeline {
  setPacing(pacing: Pacing): void;
  stats(): { pacing: Pacing; model: { name: string; variant: string } };
}

export interface ControlsDeps {
  /** Undefined until the pipeline runs: controls then answer with an error. */
  pipeline(): ControlledPipeline | undefined;
  /** The `pipeline` section the agent started with (fps changes keep its other settings). */
  config: AgentConfig['pipeline'];
  /** The variants of the active model, for the variant select. */
  variants(): string[];
  /** Loads, verifies and swaps in a variant of the active model. */
  setVariant(variant: string): Promise<unknown>;
  restart(reason: string): void;
  /** The tuner's current objective, when the build has the tuner (Home Assistant's select). */
  objective?(): string | undefined;
  /** Changes the tuner's objective (re-decides from the cache); absent without a tuner. */
  setObjective?(objective: ObjectiveId): Promise<unknown>;
  /** Starts a re-tune in the background (progress and result as events); absent without a tuner. */
  retune?(reason: string): void;
}

/** The state every control surface shows (Home Assistant, the dashboard, `get-controls`). */
export interface ControlState {
  /** False while inference is switched off (camera released, no frames inferred). */
  inference: boolean;
  model: string;
  variant: string;
  variants: string[];
  /** The target rate in continuous mode; null when unlimited or in duty cycle. */
  fps: number | null;
  pacing: string;
  objective?: string;
  /** The objectives to choose from and whether re-tune works: only with the tuner. */
  objectives?: readonly string[];
}

/**
 * A day between frames with the camera released: no capture, no inference, until resumed.
 * Done through pacing (the pipeline's public control) rather than a second stop mechanism.
 */
const PAUSED_INTERVAL_S = 86_400;
const PAUSED: Pacing = {
  mode: 'duty-cycle',
  intervalS: PAUSED_INTERVAL_S,
  releaseCamera: true,
  warmupFrames: 0,
};

function isPaused(p: Pacing): boolean {
  return p.mode === 'duty-cycle' && p.intervalS === PAUSED_INTERVAL_S && p.releaseCamera;
}

export const controlsPatchSchema = z.strictObject({
  inference: z.optional(z.boolean()),
  fps: z.optional(z.number().check(z.positive(), z.maximum(240))),
  variant: z.optional(z.string().check(z.minLength(1), z.maxLength(128))),
  objective: z.optional(z.enum(OBJECTIVE_IDS)),
});
export type ControlsPatch = z.infer<typeof controlsPatchSchema>;

/**
 * The live controls shared by Home Assistant and the dashboard: inference on/off, target fps,
 * active variant, restart. Pausing remembers the pacing it replaced, and an fps change while
 * paused is kept for the resume instead of silently restarting inference.
 */
export class Controls {
  private resumeTo: Pacing | undefined;

  constructor(private readonly deps: ControlsDeps) {}

  state(): ControlState | undefined {
    const pipeline = this.deps.pipeline();
    if (!pipeline) return undefined;
    const s = pipeline.stats();
    // Pacing changed by someone else (set-fps, set-config) while paused: inference runs again.
    if (this.resumeTo && !isPaused(s.pacing)) this.resumeTo = undefined;
    const pacing = this.resumeTo ?? s.pacing;
    return {
      inference: this.resumeTo === undefined,
      model: s.model.name,
      variant: s.model.variant,
      variants: this.deps.variants(),
      fps: pacing.mode === 'continuous' ? (pacing.fps ?? null) : null,
      pacing: this.resumeTo ? 'paused' : describePacing(pacing),
      ...(this.deps.objective?.() ? { objective: this.deps.objective()! } : {}),
      ...(this.deps.setObjective ? { objectives: OBJECTIVE_IDS } : {}),
    };
  }

  setInference(on: boolean): void {
    const pipeline = this.running();
    this.state();
    if (!on && this.resumeTo === undefined) {
      this.resumeTo = pipeline.stats().pacing;
      pipeline.setPacing(PAUSED);
    } else if (on && this.resumeTo !== undefined) {
      const resume = this.resumeTo;
      this.resumeTo = undefined;
      pipeline.setPacing(resume);
    }
  }

  setFps(fps: number): Pacing {
    const pipeline = this.running();
    const pacing = pacingFromConfig({ ...this.deps.config, mode: 'continuous', fps });
    this.state();
    if (this.resumeTo) this.resumeTo = pacing;
    else pipeline.setPacing(pacing);
    return pacing;
  }

  async setVariant(variant: string): Promise<void> {
    if (!this.deps.variants().includes(variant)) {
      throw new EdgeAgentError(
        `variant "${variant}" is not one of the active model's: ${this.deps.variants().join(', ')}`,
      );
    }
    await this.deps.setVariant(variant);
  }

  restart(reason: string): void {
    this.deps.restart(reason);
  }

  async setObjective(objective: ObjectiveId): Promise<void> {
    if (!this.deps.setObjective) throw new EdgeAgentError('the tuner is not available: no objective to set');
    await this.deps.setObjective(objective);
  }

  retune(reason: string): void {
    if (!this.deps.retune) throw new EdgeAgentError('the tuner is not available: nothing to re-tune');
    this.deps.retune(reason);
  }

  /** Applies a patch from the dashboard (fields in a fixed order: objective, variant, fps, inference). */
  async apply(patch: ControlsPatch): Promise<ControlState | undefined> {
    if (patch.objective !== undefined) await this.setObjective(patch.objective);
    if (patch.variant !== undefined) await this.setVariant(patch.variant);
    if (patch.fps !== undefined) this.setFps(patch.fps);
    if (patch.inference !== undefined) this.setInference(patch.inference);
    return this.state();
  }

  private running(): ControlledPipeline {
    const pipeline = this.deps.pipeline();
    if (!pipeline) throw new EdgeAgentError('the pipeline is not running');
    return pipeline;
  }
}
