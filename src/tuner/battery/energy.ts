import { RELEASE_CAMERA_MIN_INTERVAL_S } from '../../pipeline/pacing.js';
import { estimatedJoulesPerInference, type PowerModel } from './power-model.js';

/**
 * The energy side of a plan: what one inference, the idle board and the camera cost, measured
 * where the device has a power sensor and estimated from the power model where not, and the
 * average draw of a candidate at a rate. Pure.
 */

/** What the planner knows about one candidate (a tuner measurement, reduced). */
export interface PlanCandidate {
  variant: string;
  executionProvider: string;
  threads: number;
  fidelity: number;
  /** Mean (or p50) latency of one inference: the rate can never exceed 1000 / this. */
  latencyMs: number;
  /** CPU time of all threads per inference (always measured). */
  cpuMsPerInference: number;
  /** Whole-device energy per inference from a power sensor (includes the idle draw meanwhile). */
  energyPerInferenceJ?: number | undefined;
}

/** Figures from the device's own sensor, when it has one (the profile, or live-power.ts in the agent). */
export interface MeasuredPower {
  /** Idle with the camera released (W). */
  idleW?: number | undefined;
  /** What the running camera adds (W). */
  cameraW?: number | undefined;
  /** Live: marginal energy of one inference of the running candidate (J), fitted across rates. */
  joulesPerInference?: number | undefined;
  /** Live: the fit's intercept, idle + camera running at rate 0 (W). */
  cameraOnBaseW?: number | undefined;
  /** Live: the whole-device draw with the camera running at a rate (W). */
  cameraOn?: { ratePerS: number; watts: number } | undefined;
  /** Live: energy above idle of one duty-cycle frame, camera wake-up and inference (J). */
  dutyFrameJ?: number | undefined;
}

export type EnergySource = 'measured' | 'estimated';

export interface CandidateEnergy {
  /** Marginal energy of one inference above the idle draw (J). */
  joulesPerInference: number;
  joulesSource: EnergySource;
  idleW: number;
  idleSource: EnergySource;
  cameraW: number;
  /** Energy of one camera wake-up in a duty cycle with the camera released (J). */
  wakeJ: number;
  /** Unmodelled constant draw (W), added after the factor. */
  extraW: number;
  /**
   * The battery's real drain over the modelled draw, learned by the re-planner (cold, an aged cell,
   * a sensor or model that reads low): every modelled watt counts this many times. 1 = the model.
   */
  drainFactor: number;
  cameraSource: EnergySource;
  /**
   * Continuous (camera on): `measured` when J per inference is and the idle (or the camera-on
   * base) figure is.
   */
  source: EnergySource;
  /** Duty cycle: `measured` when idle is and J per inference or the per-frame energy is. */
  dutySource: EnergySource;
}

export function candidateEnergy(
  c: PlanCandidate,
  model: PowerModel,
  cores: number,
  measured: MeasuredPower = {},
  extraW = 0,
  drainFactor = 1,
): CandidateEnergy {
  const idleW = measured.idleW ?? model.idleW;
  const idleSource: EnergySource = measured.idleW !== undefined ? 'measured' : 'estimated';
  let joulesPerInference: number;
  let joulesSource: EnergySource;
  if (measured.joulesPerInference !== undefined) {
    // Fitted in the running agent: already marginal (the slope of draw against rate).
    joulesPerInference = Math.max(0, measured.joulesPerInference);
    joulesSource = 'measured';
  } else if (c.energyPerInferenceJ !== undefined) {
    // The sensor's figure is the whole device during the inference: take the idle draw out.
    joulesPerInference = Math.max(0, c.energyPerInferenceJ - idleW * (c.latencyMs / 1000));
    joulesSource = 'measured';
  } else {
    joulesPerInference = estimatedJoulesPerInference(model, c.cpuMsPerInference, cores);
    joulesSource = 'estimated';
  }
  // The camera: given, or what the measured camera-on draw leaves above idle and the inferences.
  let cameraW = model.cameraW;
  let cameraSource: EnergySource = 'estimated';
  let baseMeasured = false;
  if (measured.cameraW !== undefined) [cameraW, cameraSource] = [measured.cameraW, 'measured'];
  else if (measured.cameraOnBaseW !== undefined) {
    cameraW = Math.max(0, measured.cameraOnBaseW - idleW);
    cameraSource = 'measured';
    baseMeasured = true;
  } else if (measured.cameraOn) {
    const on = measured.cameraOn;
    cameraW = Math.max(0, on.watts - idleW - joulesPerInference * on.ratePerS);
    cameraSource = 'measured';
    baseMeasured = joulesSource === 'measured';
  }
  const wakeJ =
    measured.dutyFrameJ !== undefined
      ? Math.max(0, measured.dutyFrameJ - joulesPerInference)
      : cameraW * model.cameraWakeS;
  const idleKnown = idleSource === 'measured' || baseMeasured;
  return {
    joulesPerInference,
    joulesSource,
    idleW,
    idleSource,
    cameraW,
    cameraSource,
    wakeJ,
    extraW,
    drainFactor: drainFactor > 0 ? drainFactor : 1,
    source: joulesSource === 'measured' && idleKnown ? 'measured' : 'estimated',
    dutySource:
      idleSource === 'measured' && (joulesSource === 'measured' || measured.dutyFrameJ !== undefined)
        ? 'measured'
        : 'estimated',
  };
}

export type RateMode = 'continuous' | 'duty-cycle';

/**
 * The pacing mode a rate runs in: at one frame per 5 s or slower the camera is released between
 * frames (the pipeline releases it at an interval ≥ 5 s), faster it keeps running.
 */
export function rateMode(ratePerS: number): RateMode {
  return ratePerS * RELEASE_CAMERA_MIN_INTERVAL_S <= 1 + 1e-9 ? 'duty-cycle' : 'continuous';
}

/** Modelled draw (W) at a rate, before the learned drain factor and the extra draw. */
export function modelledWatts(e: CandidateEnergy, ratePerS: number): number {
  const base = e.idleW + e.joulesPerInference * ratePerS;
  return rateMode(ratePerS) === 'continuous' ? base + e.cameraW : base + e.wakeJ * ratePerS;
}

/** Average draw (W) at a rate (inferences per second): the modelled draw × the drain factor + extra. */
export function averageWatts(e: CandidateEnergy, ratePerS: number): number {
  return modelledWatts(e, ratePerS) * e.drainFactor + e.extraW;
}

/** The highest rate whose average draw stays within `budgetW`, capped at `maxRate`; 0 when none. */
export function maxRateWithin(e: CandidateEnergy, budgetW0: number, maxRate: number): number {
  // In modelled watts: the budget left after the extra draw, over the drain factor.
  const budgetW = (budgetW0 - e.extraW) / e.drainFactor;
  const fixed = e.idleW;
  const continuousPerS = e.joulesPerInference;
  const cont =
    continuousPerS > 0
      ? (budgetW - fixed - e.cameraW) / continuousPerS
      : budgetW >= fixed + e.cameraW
        ? maxRate
        : 0;
  const switchRate = 1 / RELEASE_CAMERA_MIN_INTERVAL_S;
  let best = 0;
  if (rateMode(cont) === 'continuous') best = Math.min(cont, maxRate);
  const dutyPerS = e.joulesPerInference + e.wakeJ;
  const duty = dutyPerS > 0 ? (budgetW - fixed) / dutyPerS : budgetW >= fixed ? switchRate : 0;
  // Up to one frame per 5 s the duty cycle may allow more than the camera-on continuous mode.
  const dutyCapped = Math.min(duty, switchRate, maxRate);
  if (dutyCapped > best) best = dutyCapped;
  return Math.max(0, best);
}

/** Hours a battery with `usableWh` lasts at `watts`. */
export function lifeHours(usableWh: number, watts: number): number {
  return watts > 0 ? usableWh / watts : Number.POSITIVE_INFINITY;
}
