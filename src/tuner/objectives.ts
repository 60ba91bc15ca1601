import type { Measurement } from './types.js';

/**
 * The objectives, in one place (issue 15 adds `battery-life` here). An objective turns a measured
 * candidate into a score (lower is better) and says how noisy that score is, from the candidate's
 * own spread across measurement rounds. The config schema takes its enum from OBJECTIVE_IDS.
 *
 * To add one: add its id to OBJECTIVE_IDS and a definition to OBJECTIVES (score, noise, tie figure,
 * summary); the compiler points at everything else (docs/tuner.md "Adding an objective").
 */
export const OBJECTIVE_IDS = ['max-accuracy', 'min-latency', 'min-energy', 'battery-life'] as const;
export type ObjectiveId = (typeof OBJECTIVE_IDS)[number];

/** A measured candidate: every figure the objectives read is present. */
export type Measured = Measurement & {
  latencyMs: NonNullable<Measurement['latencyMs']>;
  cpuMsPerInference: number;
  fidelity: number;
};

export interface ScoreContext {
  /** min-energy: joules when every measured candidate has them, else CPU ms (the proxy). */
  energyBasis: 'joules' | 'cpu-ms';
}

export interface ObjectiveDefinition {
  id: ObjectiveId;
  summary: string;
  /** Unit of the score, for reasons ("3.1 ms", "0.42 J"). */
  unit(ctx: ScoreContext): string;
  score(m: Measured, ctx: ScoreContext): number;
  /** The score as people read it (max-accuracy scores -fidelity; shown as fidelity). */
  display(score: number): number;
  noise(m: Measured, ctx: ScoreContext): number;
  /**
   * Among equal scores, the lower of this figure is preferred; it also lets a rival of equal score
   * replace the current choice when it beats it here by more than noise + margin (policy.ts).
   */
  tie: TieFigure;
}

/** The second figure an objective decides by. */
export interface TieFigure {
  name: string;
  unit: string;
  value(m: Measured): number;
  /** Half the range of its per-round figures. */
  noise(m: Measured): number;
}

/** Half the range of per-round figures: what a stationary machine moves a figure by between rounds. */
export function halfRange(values: readonly number[] | undefined): number {
  if (!values || values.length < 2) return 0;
  return (Math.max(...values) - Math.min(...values)) / 2;
}

const byLatency: TieFigure = {
  name: 'p95',
  unit: 'ms',
  value: (m) => m.latencyMs.p95,
  noise: (m) => halfRange(m.latencyMs.roundP95),
};
const byCpu: TieFigure = {
  name: 'CPU time',
  unit: 'CPU-ms',
  value: (m) => m.cpuMsPerInference,
  noise: (m) => halfRange(m.roundCpuMs),
};

export const OBJECTIVES: Record<ObjectiveId, ObjectiveDefinition> = {
  'max-accuracy': {
    id: 'max-accuracy',
    summary: 'highest fidelity under the latency and memory budgets; ties go to the faster',
    unit: () => 'fidelity',
    // Fidelity on a fixed frame set is deterministic: no noise.
    score: (m) => -m.fidelity,
    display: (score) => -score,
    noise: () => 0,
    tie: byLatency,
  },
  'min-latency': {
    id: 'min-latency',
    summary: 'lowest p95 latency above the fidelity floor',
    unit: () => 'ms p95',
    score: (m) => m.latencyMs.p95,
    display: (score) => score,
    noise: (m) => halfRange(m.latencyMs.roundP95),
    tie: byCpu,
  },
  'min-energy': {
    id: 'min-energy',
    summary:
      'least energy (J, or CPU-ms without a power sensor) per inference above the floor and under the latency budget',
    unit: (ctx) => (ctx.energyBasis === 'joules' ? 'J/inference' : 'CPU-ms/inference'),
    score: (m, ctx) =>
      ctx.energyBasis === 'joules'
        ? (m.energyPerInferenceJ ?? Number.POSITIVE_INFINITY)
        : m.cpuMsPerInference,
    display: (score) => score,
    noise: (m, ctx) => halfRange(ctx.energyBasis === 'joules' ? m.roundEnergyJ : m.roundCpuMs),
    tie: byLatency,
  },
  // The variant half of the battery planner (src/tuner/battery/): on a fixed energy budget the
  // inferences per hour go as 1 / energy per inference, so useful work (fidelity × inferences/h)
  // is best where energy / fidelity is least. The rate half is planned by planBatteryLife.
  'battery-life': {
    id: 'battery-life',
    summary:
      'the most useful work (fidelity × inferences/h) on the battery: least energy (or CPU-ms) per inference ÷ fidelity; the battery planner sets the rate',
    unit: (ctx) => (ctx.energyBasis === 'joules' ? 'J/fidelity' : 'CPU-ms/fidelity'),
    score: (m, ctx) =>
      (ctx.energyBasis === 'joules'
        ? (m.energyPerInferenceJ ?? Number.POSITIVE_INFINITY)
        : m.cpuMsPerInference) / Math.max(1e-6, m.fidelity),
    display: (score) => score,
    noise: (m, ctx) =>
      halfRange(ctx.energyBasis === 'joules' ? m.roundEnergyJ : m.roundCpuMs) / Math.max(1e-6, m.fidelity),
    tie: byLatency,
  },
};

export function isObjective(id: string): id is ObjectiveId {
  return (OBJECTIVE_IDS as readonly string[]).includes(id);
}
