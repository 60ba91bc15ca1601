import type { PolicyConfig } from '../config/policy.js';
import type { PowerMode, PowerModeOptions } from './power-mode.js';
import type { Constraints } from './types.js';

/** CLI / MQTT overrides of the configured policy for one tune. */
export interface PolicyOverrides {
  objective?: Constraints['objective'] | undefined;
  latencyP95Ms?: number | undefined;
  fidelityFloor?: number | undefined;
  targetFps?: number | undefined;
  /** The memory available now (memory pressure), replacing the configured or profile budget. */
  memoryBudgetBytes?: number | undefined;
}

/**
 * The constraint set of a power mode: the top-level policy, then `policy.modes.<mode>`, then the
 * caller's overrides. The memory budget defaults to the profile's (cgroup included). Pure.
 */
export function constraintsFor(
  policy: PolicyConfig,
  mode: PowerMode,
  profileBudgetBytes: number | undefined,
  overrides: PolicyOverrides = {},
): Constraints {
  const m = policy.modes[mode] ?? {};
  const memoryMB = m.memoryBudgetMB ?? policy.memoryBudgetMB;
  const targetFps = overrides.targetFps ?? m.targetFps ?? policy.targetFps;
  return {
    objective: overrides.objective ?? m.objective ?? policy.objective,
    latencyP95Ms: overrides.latencyP95Ms ?? m.latencyP95Ms ?? policy.latencyP95Ms,
    fidelityFloor: overrides.fidelityFloor ?? m.fidelityFloor ?? policy.fidelityFloor,
    memoryBudgetBytes:
      overrides.memoryBudgetBytes ?? (memoryMB !== undefined ? memoryMB * 1048576 : profileBudgetBytes),
    ...(targetFps !== undefined ? { targetFps } : {}),
    switchMarginPercent: policy.switchMarginPercent,
  };
}

export function powerModeOptions(policy: PolicyConfig): PowerModeOptions {
  return {
    lowBatteryPercent: policy.lowBatteryPercent,
    hysteresisPercent: 3,
    hotTemperatureC: policy.hotTemperatureC,
    temperatureHysteresisC: policy.temperatureHysteresisC,
  };
}
