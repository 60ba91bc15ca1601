import type { LiveSample } from '../../hardware/sample.js';
import type { MeasuredPower } from './energy.js';

/**
 * The energy model measured in the running agent (docs/battery.md "Measured in the agent"): every
 * hardware sample is paired with what the pipeline was doing (camera running or released, the
 * inference counter, the pacing, the candidate), and the intervals between samples give
 *
 * - **idle** (W): intervals with the camera released throughout and no inference (duty-cycle gaps);
 * - **camera on** (W at a rate): intervals with the camera running throughout, grouped by pacing;
 * - **J per inference**: the slope of draw against rate across pacing groups of one candidate (two
 *   rates at least 25 % apart), from the whole-device sensor, else from RAPL (the CPU package: a
 *   marginal figure, like J itself);
 * - **per duty-cycle frame** (J): the energy above idle of the intervals holding a wake-up (camera
 *   start, warm-up, the inference), per inference.
 *
 * Only whole-device sensors give watts (an INA3221 input rail, the Pi 5 PMIC sum, a discharging
 * battery's power_now or current_now × voltage_now); RAPL gives the slope only. Pure, except the
 * small `LivePowerMonitor` that collects the observations.
 */

export type CameraPhase = 'on' | 'off' | 'other';

export interface PowerObservation {
  timeMs: number;
  /** Whole-device draw now (W). */
  deviceW?: number;
  deviceSensor?: string;
  /** CPU package draw since the previous sample (RAPL, W). */
  cpuW?: number;
  camera: CameraPhase;
  /** When the camera's current state began. */
  cameraSinceMs: number;
  /** The pipeline's inference counter. */
  processed: number;
  /** The pacing in force (its description) and the candidate running. */
  pacing: string;
  candidate: string;
}

export interface RateGroup {
  pacing: string;
  ratePerS: number;
  deviceW?: number;
  cpuW?: number;
  seconds: number;
}

export interface LivePower {
  sensor?: string;
  idleW?: number;
  idleSeconds: number;
  /** The newest camera-on group of the candidate (the draw at its rate). */
  cameraOn?: RateGroup;
  groups: RateGroup[];
  joulesPerInference?: number;
  joulesFrom?: 'device-fit' | 'rapl-fit';
  /** Intercept of the device fit: idle + camera at rate 0 (W). */
  onBaseW?: number;
  dutyFrameJ?: number;
  dutyFrames: number;
}

export interface FitOptions {
  /** Seconds of idle intervals before an idle figure counts. */
  minIdleS: number;
  /** Seconds of camera-on intervals a pacing group needs. */
  minGroupS: number;
  /** Wake-ups before a per-frame figure counts. */
  minDutyFrames: number;
}

export const DEFAULT_FIT: FitOptions = { minIdleS: 30, minGroupS: 30, minDutyFrames: 3 };

interface Interval {
  dtS: number;
  deviceJ?: number;
  cpuJ?: number;
  inferences: number;
  kind: 'idle' | 'on' | 'wake';
  pacing: string;
  candidate: string;
}

/** The intervals between consecutive observations, classified by what the camera did throughout. */
export function intervalsOf(obs: readonly PowerObservation[]): Interval[] {
  const out: Interval[] = [];
  for (let i = 1; i < obs.length; i++) {
    const a = obs[i - 1]!;
    const b = obs[i]!;
    const dtS = (b.timeMs - a.timeMs) / 1000;
    if (!(dtS > 0) || b.processed < a.processed) continue;
    const inferences = b.processed - a.processed;
    const steady = b.cameraSinceMs <= a.timeMs && a.camera === b.camera;
    // The pacing or the candidate changed inside: which one the interval belongs to is unknown.
    if (a.pacing !== b.pacing || a.candidate !== b.candidate) continue;
    const kind =
      steady && b.camera === 'off' && inferences === 0
        ? 'idle'
        : steady && b.camera === 'on'
          ? 'on'
          : b.camera === 'other' || a.camera === 'other'
            ? undefined
            : 'wake';
    if (!kind) continue;
    out.push({
      dtS,
      inferences,
      kind,
      pacing: b.pacing,
      candidate: b.candidate,
      ...(a.deviceW !== undefined && b.deviceW !== undefined
        ? { deviceJ: ((a.deviceW + b.deviceW) / 2) * dtS }
        : {}),
      ...(b.cpuW !== undefined ? { cpuJ: b.cpuW * dtS } : {}),
    });
  }
  return out;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Weighted least squares y = a + b·x; undefined without spread. */
function fitLine(points: ReadonlyArray<{ x: number; y: number; w: number }>) {
  const sw = points.reduce((s, p) => s + p.w, 0);
  if (points.length < 2 || sw <= 0) return undefined;
  const mx = points.reduce((s, p) => s + p.w * p.x, 0) / sw;
  const my = points.reduce((s, p) => s + p.w * p.y, 0) / sw;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += p.w * (p.x - mx) * (p.y - my);
    den += p.w * (p.x - mx) ** 2;
  }
  if (den <= 0) return undefined;
  const slope = num / den;
  return { slope, intercept: my - slope * mx };
}

/** Two groups' rates at least 25 % apart: a slope across them means something. */
function spread(groups: readonly RateGroup[]): boolean {
  const rates = groups.map((g) => g.ratePerS);
  const max = Math.max(...rates);
  return groups.length >= 2 && max > 0 && max - Math.min(...rates) >= 0.25 * max;
}

export function fitLivePower(
  obs: readonly PowerObservation[],
  candidate: string,
  o: FitOptions = DEFAULT_FIT,
): LivePower {
  const all = intervalsOf(obs);
  const sensor = [...obs].reverse().find((x) => x.deviceSensor)?.deviceSensor;
  const idle = all.filter((i) => i.kind === 'idle' && i.deviceJ !== undefined);
  const idleSeconds = idle.reduce((s, i) => s + i.dtS, 0);
  // The median: an instantaneous reading caught inside a wake-up lifts its neighbour interval too.
  const idleW = idleSeconds >= o.minIdleS ? median(idle.map((i) => i.deviceJ! / i.dtS)) : undefined;

  // Camera-on groups of this candidate, in the order their pacing was first seen.
  const byPacing = new Map<string, Interval[]>();
  for (const i of all)
    if (i.kind === 'on' && i.candidate === candidate)
      byPacing.set(i.pacing, [...(byPacing.get(i.pacing) ?? []), i]);
  const groups: RateGroup[] = [];
  for (const [pacing, list] of byPacing) {
    const seconds = list.reduce((s, i) => s + i.dtS, 0);
    if (seconds < o.minGroupS) continue;
    const n = list.reduce((s, i) => s + i.inferences, 0);
    const dev = list.filter((i) => i.deviceJ !== undefined);
    const devS = dev.reduce((s, i) => s + i.dtS, 0);
    const cpu = list.filter((i) => i.cpuJ !== undefined);
    const cpuS = cpu.reduce((s, i) => s + i.dtS, 0);
    groups.push({
      pacing,
      ratePerS: n / seconds,
      seconds,
      ...(devS >= o.minGroupS ? { deviceW: dev.reduce((s, i) => s + i.deviceJ!, 0) / devS } : {}),
      ...(cpuS >= o.minGroupS ? { cpuW: cpu.reduce((s, i) => s + i.cpuJ!, 0) / cpuS } : {}),
    });
  }
  const lastPacing = [...all].reverse().find((i) => i.kind === 'on' && i.candidate === candidate)?.pacing;
  const cameraOn = groups.find((g) => g.pacing === lastPacing && g.deviceW !== undefined);

  let joulesPerInference: number | undefined;
  let joulesFrom: LivePower['joulesFrom'];
  let onBaseW: number | undefined;
  const devGroups = groups.filter((g) => g.deviceW !== undefined);
  const devFit = spread(devGroups)
    ? fitLine(devGroups.map((g) => ({ x: g.ratePerS, y: g.deviceW!, w: g.seconds })))
    : undefined;
  if (devFit && devFit.slope >= 0) {
    joulesPerInference = devFit.slope;
    joulesFrom = 'device-fit';
    onBaseW = devFit.intercept;
  } else {
    const cpuGroups = groups.filter((g) => g.cpuW !== undefined);
    const cpuFit = spread(cpuGroups)
      ? fitLine(cpuGroups.map((g) => ({ x: g.ratePerS, y: g.cpuW!, w: g.seconds })))
      : undefined;
    if (cpuFit && cpuFit.slope >= 0) {
      joulesPerInference = cpuFit.slope;
      joulesFrom = 'rapl-fit';
    }
  }

  // Duty cycle: the energy above idle of every interval under a pacing with wake-ups (the gaps too:
  // a reading caught inside a wake-up spreads it over two intervals), per inference.
  let dutyFrameJ: number | undefined;
  const dutyPacings = new Set(
    all.filter((i) => i.kind === 'wake' && i.candidate === candidate).map((i) => i.pacing),
  );
  const duty = all.filter(
    (i) =>
      i.kind !== 'on' && dutyPacings.has(i.pacing) && i.candidate === candidate && i.deviceJ !== undefined,
  );
  const dutyFrames = duty.reduce((s, i) => s + i.inferences, 0);
  if (idleW !== undefined && dutyFrames >= o.minDutyFrames) {
    const above = duty.reduce((s, i) => s + i.deviceJ! - idleW * i.dtS, 0);
    dutyFrameJ = Math.max(0, above / dutyFrames);
  }

  return {
    ...(sensor ? { sensor } : {}),
    ...(idleW !== undefined ? { idleW } : {}),
    idleSeconds,
    ...(cameraOn ? { cameraOn } : {}),
    groups,
    ...(joulesPerInference !== undefined ? { joulesPerInference, joulesFrom } : {}),
    ...(onBaseW !== undefined ? { onBaseW } : {}),
    ...(dutyFrameJ !== undefined ? { dutyFrameJ } : {}),
    dutyFrames,
  };
}

/** The planner's view of the live figures (energy.ts decides what they replace). */
export function measuredPowerOf(live: LivePower): MeasuredPower {
  return {
    ...(live.idleW !== undefined ? { idleW: live.idleW } : {}),
    ...(live.joulesPerInference !== undefined ? { joulesPerInference: live.joulesPerInference } : {}),
    ...(live.onBaseW !== undefined
      ? { cameraOnBaseW: live.onBaseW }
      : live.cameraOn?.deviceW !== undefined
        ? { cameraOn: { ratePerS: live.cameraOn.ratePerS, watts: live.cameraOn.deviceW } }
        : {}),
    ...(live.dutyFrameJ !== undefined ? { dutyFrameJ: live.dutyFrameJ } : {}),
  };
}

/** The whole-device draw of a sample (not RAPL: the CPU package only). */
export function deviceWatts(s: LiveSample): { watts: number; sensor: string } | undefined {
  if (s.powerW !== undefined && s.powerSensor && s.powerSensor !== 'rapl')
    return { watts: s.powerW, sensor: s.powerSensor };
  if (s.powerSource === 'battery' && s.batteryPowerW !== undefined && s.batteryPowerW > 0)
    return { watts: s.batteryPowerW, sensor: 'battery' };
  return undefined;
}
