import type { DeviceProfile } from '../../hardware/schema.js';
import type { Measurement } from '../types.js';
import type { MeasuredPower, PlanCandidate } from './energy.js';
import type { BatteryPlan } from './planner.js';

/**
 * Glue between the tuner's records and the battery planner: measured candidates become plan
 * candidates, the profile's whole-device sensor gives an idle figure, and a plan becomes the
 * documented `edge-agent plan --json` shape. Pure.
 */

/** Candidates the tuner measured (ok, with latency, CPU time and fidelity). */
export function planCandidates(measurements: readonly Measurement[]): PlanCandidate[] {
  return measurements.flatMap((m) =>
    m.status === 'ok' && m.latencyMs && m.cpuMsPerInference !== undefined && m.fidelity !== undefined
      ? [
          {
            variant: m.variant,
            executionProvider: m.executionProvider,
            threads: m.threads,
            fidelity: m.fidelity,
            latencyMs: m.latencyMs.mean || m.latencyMs.p50,
            cpuMsPerInference: m.cpuMsPerInference,
            ...(m.energyPerInferenceJ !== undefined ? { energyPerInferenceJ: m.energyPerInferenceJ } : {}),
          },
        ]
      : [],
  );
}

/**
 * The idle draw from a whole-device sensor read while nothing infers (the profile, before any
 * measurement): an INA3221 input rail, the Pi 5 PMIC sum, or a discharging battery's own figure.
 * RAPL covers the CPU package only, so it is not an idle figure of the device.
 */
export function sensorIdlePower(profile: Pick<DeviceProfile, 'power'>): MeasuredPower {
  const total = profile.power.sensors.find(
    (s) => s.total && s.powerW !== undefined && (s.kind === 'ina3221' || s.kind === 'pmic'),
  );
  if (total?.powerW !== undefined) return { idleW: total.powerW };
  const b = profile.power.battery;
  if (profile.power.source === 'battery' && b?.powerW !== undefined && b.powerW > 0)
    return { idleW: b.powerW };
  return {};
}

/** `edge-agent plan --json`: exactly the shape issue 15 documents. */
export function planJson(plan: BatteryPlan): Record<string, unknown> {
  return {
    variant: plan.chosen?.variant ?? null,
    executionProvider: plan.chosen?.executionProvider ?? null,
    threads: plan.chosen?.threads ?? null,
    ...(plan.mode === 'continuous' ? { fps: plan.fps } : { intervalS: plan.intervalS }),
    predictedHours: plan.predictedHours,
    targetHours: plan.targetHours,
    met: plan.met,
    energy: {
      source: plan.energy.source,
      joulesPerInference: plan.energy.joulesPerInference,
      idleWatts: plan.energy.idleWatts,
      remainingWh: plan.energy.remainingWh,
    },
    reason: plan.reason,
  };
}
