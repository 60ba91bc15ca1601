import { compareText } from '../../collate.js';
import { RELEASE_CAMERA_MIN_INTERVAL_S } from '../../pipeline/pacing.js';
import type { CandidateKey } from '../types.js';
import { candidateLabel, sameCandidate } from '../types.js';
import {
  averageWatts,
  type CandidateEnergy,
  candidateEnergy,
  type EnergySource,
  lifeHours,
  type MeasuredPower,
  maxRateWithin,
  type PlanCandidate,
  type RateMode,
  rateMode,
} from './energy.js';
import type { PowerModel } from './power-model.js';

const RELEASE_INTERVAL_S = RELEASE_CAMERA_MIN_INTERVAL_S;

/**
 * The `battery-life` planner (issue 15, docs/battery.md): which variant × threads × rate lasts the
 * target on the energy left, doing the most useful work. Pure: no clock, no I/O.
 *
 * Useful work per hour = fidelity × inferences per hour. For each candidate the highest rate whose
 * average draw keeps the predicted life ≥ the target is found (continuous at an fps while the
 * camera runs, or a duty cycle with the camera released between frames below one frame per 5 s),
 * capped by how fast the candidate can infer; the candidate with the most useful work wins. When no
 * candidate reaches the target at the floor rate (`minFps` / `maxIntervalS`, else one an hour), the
 * plan says so and runs the candidate that lasts longest at the floor.
 */

/** Without minFps / maxIntervalS the plan never goes below one inference an hour. */
export const DEFAULT_MAX_INTERVAL_S = 3600;

export interface PlanInput {
  candidates: readonly PlanCandidate[];
  targetHours: number;
  /** Energy left in the battery (Wh). */
  remainingWh: number;
  power: PowerModel;
  cores: number;
  measured?: MeasuredPower;
  /** Unmodelled constant draw (W), added to every candidate. */
  extraW?: number;
  /** The real drain over the modelled draw, learned from the battery (1 = the model). */
  drainFactor?: number;
  minFps?: number | undefined;
  maxIntervalS?: number | undefined;
  fidelityFloor?: number | undefined;
  /** The candidate running now: kept while within `switchMarginPercent` of the best (no flapping). */
  current?: CandidateKey | null | undefined;
  switchMarginPercent?: number | undefined;
}

export interface CandidatePlan extends CandidateKey {
  fidelity: number;
  /** Highest rate within the energy budget (inferences/s), 0 when none. */
  ratePerS: number;
  averageW: number;
  predictedHours: number;
  usefulWorkPerHour: number;
  verdict: 'chosen' | 'feasible' | 'too-slow' | 'violates' | 'too-costly';
  reason: string;
}

export interface BatteryPlan {
  chosen: CandidateKey | null;
  mode: RateMode;
  /** Continuous: the fps; duty cycle: absent. */
  fps?: number;
  /** Duty cycle: seconds between inferences (camera released between them). */
  intervalS?: number;
  inferencesPerHour: number;
  usefulWorkPerHour: number;
  averageW: number;
  predictedHours: number;
  targetHours: number;
  met: boolean;
  energy: {
    source: EnergySource;
    joulesPerInference: number;
    idleWatts: number;
    cameraWatts: number;
    extraWatts: number;
    /** The learned real-over-modelled drain factor the draw includes (1 = the model alone). */
    drainFactor: number;
    remainingWh: number;
    basis: string;
  };
  reason: string;
  candidates: CandidatePlan[];
}

const fmt = (n: number, digits = 2) => Number(n.toFixed(digits));

/** The rate as the pipeline will run it: fps rounded down, intervals rounded up (never over budget). */
export function quantiseRate(ratePerS: number): {
  mode: RateMode;
  fps?: number;
  intervalS?: number;
  ratePerS: number;
} {
  if (rateMode(ratePerS) === 'continuous') {
    const fps = Math.floor(ratePerS * 100 + 1e-6) / 100;
    // Rounded down to one frame per 5 s: that is a duty cycle (the camera is released).
    if (rateMode(fps) === 'continuous') return { mode: 'continuous', fps, ratePerS: fps };
    return { mode: 'duty-cycle', intervalS: RELEASE_INTERVAL_S, ratePerS: 1 / RELEASE_INTERVAL_S };
  }
  const raw = 1 / ratePerS;
  const intervalS = raw >= 10 ? Math.ceil(raw - 1e-6) : Math.ceil(raw * 10 - 1e-3) / 10;
  return { mode: 'duty-cycle', intervalS, ratePerS: 1 / intervalS };
}

export function describeRate(q: { mode: RateMode; fps?: number; intervalS?: number }): string {
  return q.mode === 'continuous' ? `${q.fps} fps` : `one frame every ${q.intervalS} s (camera released)`;
}

export function planBatteryLife(input: PlanInput): BatteryPlan {
  const usableWh = Math.max(0, input.remainingWh);
  const budgetW = usableWh / input.targetHours;
  const floorRate = Math.max(input.minFps ?? 0, 1 / (input.maxIntervalS ?? DEFAULT_MAX_INTERVAL_S));
  const floorText = describeRate(quantiseRate(floorRate));

  const rows = input.candidates.map((c) => {
    const e = candidateEnergy(
      c,
      input.power,
      input.cores,
      input.measured,
      input.extraW ?? 0,
      input.drainFactor ?? 1,
    );
    const maxRate = 1000 / Math.max(1e-3, c.latencyMs);
    const within = maxRateWithin(e, budgetW, maxRate);
    return { c, e, maxRate, within };
  });

  const plans: Array<CandidatePlan & { e: CandidateEnergy }> = rows.map(({ c, e, maxRate, within }) => {
    const key = { variant: c.variant, executionProvider: c.executionProvider, threads: c.threads };
    const base = { ...key, fidelity: c.fidelity, e };
    if (input.fidelityFloor !== undefined && c.fidelity < input.fidelityFloor) {
      return {
        ...base,
        ...atRate(e, usableWh, 0, c.fidelity),
        verdict: 'violates' as const,
        reason: `fidelity ${fmt(c.fidelity, 3)} below the floor ${input.fidelityFloor}`,
      };
    }
    if (maxRate < floorRate) {
      return {
        ...base,
        ...atRate(e, usableWh, maxRate, c.fidelity),
        verdict: 'too-slow' as const,
        reason: `infers at most ${fmt(maxRate)}/s, below the floor (${floorText})`,
      };
    }
    const q = quantiseRate(within);
    if (within <= 0 || q.ratePerS < floorRate - 1e-9) {
      const atFloor = atRate(e, usableWh, floorRate, c.fidelity);
      return {
        ...base,
        ...atFloor,
        verdict: 'too-costly' as const,
        reason: `at the floor (${floorText}) it draws ${fmt(atFloor.averageW)} W: ${fmt(atFloor.predictedHours, 1)} h`,
      };
    }
    const r = atRate(e, usableWh, q.ratePerS, c.fidelity);
    return {
      ...base,
      ...r,
      verdict: 'feasible' as const,
      reason: `${describeRate(q)} at ${fmt(r.averageW)} W lasts ${fmt(r.predictedHours, 1)} h; work ${fmt(r.usefulWorkPerHour, 0)}/h`,
    };
  });

  const feasible = plans.filter((p) => p.verdict === 'feasible');
  let chosen: (typeof plans)[number] | undefined;
  let met: boolean;
  let reason: string;
  if (feasible.length) {
    // Most useful work; within 1 % equal, then the lower draw (longer life), fewer threads, the id.
    chosen = [...feasible].sort(
      (a, b) =>
        (Math.abs(a.usefulWorkPerHour - b.usefulWorkPerHour) <=
        0.01 * Math.max(a.usefulWorkPerHour, b.usefulWorkPerHour)
          ? 0
          : b.usefulWorkPerHour - a.usefulWorkPerHour) ||
        a.averageW - b.averageW ||
        a.threads - b.threads ||
        compareText(candidateLabel(a), candidateLabel(b)),
    )[0]!;
    const margin = (input.switchMarginPercent ?? 5) / 100;
    const kept = feasible.find((p) => sameCandidate(p, input.current));
    const keep = kept && kept !== chosen && kept.usefulWorkPerHour >= chosen.usefulWorkPerHour * (1 - margin);
    if (keep) chosen = kept;
    met = true;
    reason = `${keep ? 'kept (within the switch margin of the best) ' : ''}${candidateLabel(chosen)} at ${describeRate(quantiseRate(chosen.ratePerS))}: the most useful work (fidelity × inferences/h = ${fmt(chosen.usefulWorkPerHour, 0)}) of ${feasible.length} candidate(s) that last ${input.targetHours} h (predicted ${fmt(chosen.predictedHours, 1)} h)`;
  } else {
    // Nothing lasts: the candidate that lives longest at the floor rate, and the plain truth.
    const usable = plans.filter((p) => p.verdict === 'too-costly');
    const pool = usable.length ? usable : plans.filter((p) => p.verdict !== 'violates');
    chosen = [...pool].sort(
      (a, b) => b.predictedHours - a.predictedHours || b.fidelity - a.fidelity || a.threads - b.threads,
    )[0];
    const kept = pool.find((p) => sameCandidate(p, input.current));
    if (
      chosen &&
      kept &&
      kept.predictedHours >= chosen.predictedHours * (1 - (input.switchMarginPercent ?? 5) / 100)
    )
      chosen = kept;
    met = false;
    if (!chosen) {
      reason = `cannot plan: no candidate${plans.length ? ' meets the fidelity floor' : ' measured'}`;
    } else {
      const idleAloneW = chosen.e.idleW * chosen.e.drainFactor + chosen.e.extraW;
      const idleOnly = lifeHours(usableWh, idleAloneW);
      reason = `cannot last ${input.targetHours} h on ${fmt(usableWh, 1)} Wh: the best is ${fmt(chosen.predictedHours, 1)} h (${candidateLabel(chosen)} at the floor, ${floorText}); the idle draw alone (${fmt(idleAloneW)} W) lasts ${fmt(idleOnly, 1)} h`;
    }
  }

  const candidates: CandidatePlan[] = plans.map((full) => {
    const { e: _e, ...p } = full;
    return full === chosen ? { ...p, verdict: 'chosen' as const } : p;
  });
  if (!chosen) {
    return {
      chosen: null,
      mode: 'duty-cycle',
      intervalS: 1 / floorRate,
      inferencesPerHour: 0,
      usefulWorkPerHour: 0,
      averageW: 0,
      predictedHours: 0,
      targetHours: input.targetHours,
      met: false,
      energy: {
        source: 'estimated',
        joulesPerInference: 0,
        idleWatts: input.measured?.idleW ?? input.power.idleW,
        cameraWatts: input.measured?.cameraW ?? input.power.cameraW,
        extraWatts: input.extraW ?? 0,
        drainFactor: input.drainFactor ?? 1,
        remainingWh: fmt(usableWh, 3),
        basis: input.power.basis,
      },
      reason,
      candidates,
    };
  }
  const q = quantiseRate(chosen.ratePerS);
  const source = q.mode === 'duty-cycle' ? chosen.e.dutySource : chosen.e.source;
  return {
    chosen: { variant: chosen.variant, executionProvider: chosen.executionProvider, threads: chosen.threads },
    mode: q.mode,
    ...(q.mode === 'continuous' ? { fps: q.fps! } : { intervalS: q.intervalS! }),
    inferencesPerHour: fmt(q.ratePerS * 3600, 1),
    usefulWorkPerHour: fmt(chosen.usefulWorkPerHour, 1),
    averageW: fmt(chosen.averageW, 3),
    predictedHours: fmt(chosen.predictedHours, 2),
    targetHours: input.targetHours,
    met,
    energy: {
      source,
      joulesPerInference: fmt(chosen.e.joulesPerInference, 4),
      idleWatts: fmt(chosen.e.idleW, 3),
      cameraWatts: fmt(chosen.e.cameraW, 3),
      extraWatts: fmt(chosen.e.extraW, 3),
      drainFactor: fmt(chosen.e.drainFactor, 4),
      remainingWh: fmt(usableWh, 3),
      basis: energyBasis(chosen.e, source, input),
    },
    reason,
    candidates,
  };
}

function atRate(e: CandidateEnergy, usableWh: number, ratePerS: number, fidelity: number) {
  const averageW = averageWatts(e, ratePerS);
  return {
    ratePerS,
    averageW,
    predictedHours: lifeHours(usableWh, averageW),
    usefulWorkPerHour: fidelity * ratePerS * 3600,
  };
}

/** Which figures are measured and which come from the power model. */
function energyBasis(e: CandidateEnergy, source: EnergySource, input: PlanInput): string {
  const measured = [
    ...(e.idleSource === 'measured' ? ['idle'] : []),
    ...(e.cameraSource === 'measured' ? ['camera'] : []),
    ...(e.joulesSource === 'measured' ? ['J/inference'] : []),
    ...(input.measured?.dutyFrameJ !== undefined ? ['duty-cycle frame'] : []),
  ];
  if (source === 'measured') return `power sensor (${measured.join(', ')} measured)`;
  return `${measured.length ? `${measured.join(', ')} measured; ` : ''}${input.power.basis}`;
}
