/**
 * The tuner's records: what one candidate measured on this device, the constraints a decision is
 * made under, and the decision with a verdict and reason for every candidate (DESIGN.md "Choosing a
 * variant"). Plain data: they go to SQLite, MQTT, HTTP and `edge-agent tune --json` as they are.
 */
import type { ObjectiveId } from './objectives.js';
import type { PowerMode } from './power-mode.js';

/** One point of the search: a variant file run with one execution provider and thread count. */
export interface CandidateKey {
  variant: string;
  executionProvider: string;
  threads: number;
}

export interface LatencyFigures {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  /** The p95 of each measurement round: the spread the stability rule compares against. */
  roundP95: number[];
}

/** What the child measured for one candidate (or why it could not). */
export interface Measurement extends CandidateKey {
  variantSha256: string;
  sizeBytes: number;
  precision: string;
  status: 'ok' | 'failed' | 'filtered';
  /** failed: the error; filtered: why it was never measured (memory budget, ...). */
  error?: string;
  /**
   * Per frame: preparing the camera frame into the input tensor the way the pipeline does, then
   * `session.run` — what the device pays per frame for this variant (a float variant that normalises
   * in JavaScript pays for the loop; an `input-uint8` one copies bytes).
   */
  latencyMs?: LatencyFigures;
  /** Of `latencyMs.mean`, the preparation (the pipeline's `TensorPreparer`, path `preparePath`). */
  prepareMs?: number;
  preparePath?: string;
  /** Measured on the lean runtime (`--lite-mode`: the JavaScript of preparation interpreted). */
  lean?: true;
  sessionCreateMs?: number;
  runs?: number;
  /** Peak RSS of the measuring process minus its RSS before the session existed. */
  memoryBytes?: number;
  /**
   * The measuring child passed its memory cap (`memoryCapBytes`): the candidate does not fit, and
   * `memoryBytes` is the cap, a lower bound on what it needs.
   */
  memoryExceeded?: boolean;
  memoryCapBytes?: number;
  /** Peak RSS of the measuring process (node + session). */
  processPeakRssBytes?: number;
  /** CPU time (all threads) per frame, preparation included: always measured; the energy proxy without a sensor. */
  cpuMsPerInference?: number;
  /** Per-round CPU ms per inference (its spread is the noise of min-energy on CPU time). */
  roundCpuMs?: number[];
  /** Whole-device energy per inference from the power sensor; absent without one. */
  energyPerInferenceJ?: number;
  roundEnergyJ?: number[];
  energySource?: string;
  /** Agreement with the reference (0..1); 1 for the reference itself. */
  fidelity?: number;
  fidelitySource?: 'reference' | 'recorded' | 'measured' | 'unknown';
  /** The variant the fidelity is against (the model's common fidelity reference, else the variant's own). */
  fidelityReference?: string;
  /** True when the figures came from the SQLite cache instead of this run. */
  cached?: boolean;
  measuredAt?: number;
}

/** The constraint set of one power mode, resolved from `policy` and `policy.modes.<mode>`. */
export interface Constraints {
  objective: ObjectiveId;
  latencyP95Ms?: number | undefined;
  fidelityFloor: number;
  memoryBudgetBytes?: number | undefined;
  targetFps?: number | undefined;
  /** A rival must beat the current choice by measured noise + this % of its score to replace it. */
  switchMarginPercent: number;
}

export type Verdict = 'chosen' | 'feasible' | 'violates' | 'failed' | 'filtered';

export interface CandidateVerdict extends Measurement {
  verdict: Verdict;
  reason: string;
  /** The objective's score (lower is better) and its noise, where measured. */
  score?: number;
  noise?: number;
  /** Constraints broken, empty when it fits. */
  violations?: string[];
}

export interface ParetoPoint extends CandidateKey {
  latencyP95Ms: number;
  fidelity: number;
  sizeBytes: number;
  fronts: Array<'latency-fidelity' | 'size-fidelity'>;
}

export interface Selection {
  chosen: CandidateKey | null;
  met: boolean;
  /** One sentence: why this candidate (or why none). */
  reason: string;
  /** True when the choice differs from `current`. */
  changed: boolean;
  objective: ObjectiveId;
  constraints: Constraints;
  candidates: CandidateVerdict[];
  pareto: ParetoPoint[];
}

/** A full decision as recorded (store/records.ts) and returned by `tune`. */
export interface Decision extends Selection {
  model: string;
  mode: PowerMode;
  deviceFingerprint: string;
  catalogueHash: string;
  ortVersion: string;
  derived: string[];
  tookMs: number;
  decidedAt: number;
  /** What led to this decision: cli, agent-start, power-mode, drift, fleet, ... */
  trigger: string;
}

export function sameCandidate(
  a: CandidateKey | null | undefined,
  b: CandidateKey | null | undefined,
): boolean {
  return (
    !!a &&
    !!b &&
    a.variant === b.variant &&
    a.executionProvider === b.executionProvider &&
    a.threads === b.threads
  );
}

export function candidateLabel(k: CandidateKey): string {
  return `${k.variant}@${k.executionProvider}/${k.threads}t`;
}
