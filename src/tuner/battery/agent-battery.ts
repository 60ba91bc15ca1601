import type { Clock } from '../../clock.js';
import type { AgentConfig } from '../../config/index.js';
import { createHost, type Host } from '../../hardware/host.js';
import type { DeviceProfile } from '../../hardware/schema.js';
import type { Logger } from '../../log.js';
import { pacingFromConfig } from '../../pipeline/config.js';
import type { Pacing } from '../../pipeline/pacing.js';
import { candidateLabel, type Decision, sameCandidate } from '../types.js';
import { planCandidates } from './from-tuner.js';
import { LivePowerMonitor, type LivePowerMonitorDeps } from './live-power-monitor.js';
import { type BatteryPlan, planBatteryLife } from './planner.js';
import { powerModelFor } from './power-model.js';
import { readBatteryState } from './remaining.js';
import { BatteryReplanner, type BatteryStatus } from './replanner.js';

/**
 * The battery planner in the running agent (docs/battery.md "In the agent"): present when
 * `policy.batteryHours` is set. The variant is the tuner's choice in the battery modes (set their
 * objective to `battery-life`, the same useful-work criterion); the planner sets the rate — the
 * pipeline's pacing, continuous at an fps or a duty cycle with the camera released — from that
 * candidate's measured figures, and hands the configured pacing back on mains.
 */
export interface AgentBatteryDeps {
  config: AgentConfig;
  profile: () => Promise<DeviceProfile>;
  pipeline: { setPacing(p: Pacing): void } & Partial<LivePowerMonitorDeps['pipeline']>;
  /** The hardware sampler: its power readings, next to what the pipeline did, measure the model. */
  sampler?: LivePowerMonitorDeps['sampler'] | undefined;
  /** The tuner's decision in force (its measured candidates). */
  decision: () => Decision | undefined;
  events: { emit(type: string, data: Record<string, unknown>): void };
  clock: Clock;
  log: Logger;
  host?: Host;
}

export function createAgentBattery(deps: AgentBatteryDeps): BatteryReplanner | undefined {
  const chosenLabel = () => {
    const c = deps.decision()?.chosen;
    return c ? candidateLabel(c) : 'configured';
  };
  const stats = deps.pipeline.stats?.bind(deps.pipeline);
  const monitor =
    deps.sampler && stats
      ? new LivePowerMonitor({ sampler: deps.sampler, pipeline: { stats }, candidate: chosenLabel })
      : undefined;
  const { config } = deps;
  const targetHours = config.policy.batteryHours;
  if (targetHours === undefined) return undefined;
  const host = deps.host ?? createHost({ root: config.hardware.root });
  let profile: DeviceProfile | undefined;
  const configured = pacingFromConfig(config.pipeline);
  return new BatteryReplanner({
    clock: deps.clock,
    log: deps.log.child({ component: 'battery' }),
    readBattery: async () => {
      profile ??= await deps.profile();
      return readBatteryState(host, profile.board.family);
    },
    plan: (req) => {
      const d = deps.decision();
      const candidates = planCandidates(d?.candidates ?? []).filter((c) => sameCandidate(c, d?.chosen));
      const live = monitor?.measured();
      return planBatteryLife({
        ...(live ? { measured: live } : {}),
        candidates,
        targetHours: req.targetHours,
        remainingWh: req.remainingWh,
        drainFactor: req.drainFactor,
        current: req.current,
        power: powerModelFor(profile?.board.family ?? 'unknown', true, config.power.model),
        cores: Math.max(1, profile?.cpu.cores ?? 1),
        minFps: config.policy.minFps,
        maxIntervalS: config.policy.maxIntervalS,
      });
    },
    apply: async (plan) => {
      const pacing = pacingOf(plan, config);
      if (pacing) deps.pipeline.setPacing(pacing);
    },
    restore: async () => deps.pipeline.setPacing(configured),
    // A new tuner decision (the first one, or another choice) re-plans at the next check.
    // A measured figure that was not there before (idle, J, camera, duty frame) re-plans too.
    inputsVersion: () => {
      const d = deps.decision();
      const m = monitor?.measured() ?? {};
      const known = Object.keys(m).sort().join(',');
      return `${d?.chosen ? `${candidateLabel(d.chosen)}@${d.decidedAt}` : ''}|${known}`;
    },
    monitor,
    events: deps.events,
    options: {
      targetHours,
      everyMinutes: config.policy.replan.everyMinutes,
      drainMarginPercent: config.policy.replan.drainMarginPercent,
      drainWindowMinutes: config.policy.replan.drainWindowMinutes,
      rateHysteresisPercent: config.policy.replan.rateHysteresisPercent,
      lowBatteryPercent: config.policy.lowBatteryPercent,
      batteryWh: config.power.batteryWh,
      checkIntervalMs: config.hardware.sampler.intervalMs,
    },
  });
}

/** The pipeline pacing of a plan (none when nothing could be planned). */
export function pacingOf(plan: BatteryPlan, config: Pick<AgentConfig, 'pipeline'>): Pacing | undefined {
  if (!plan.chosen) return undefined;
  return plan.mode === 'continuous'
    ? { mode: 'continuous', fps: plan.fps! }
    : {
        mode: 'duty-cycle',
        intervalS: plan.intervalS!,
        releaseCamera: true,
        warmupFrames: config.pipeline.warmupFrames,
      };
}

/** Flat telemetry fields (the record is flat): `batteryPredictedHours`, the plan, the drains. */
export function batteryTelemetry(s: BatteryStatus | undefined): Record<string, number | string | boolean> {
  if (!s?.active || !s.plan) return {};
  const p = s.plan;
  const out: Record<string, number | string | boolean> = {
    // Hours of the target left when the plan was made (the target counts from going on battery).
    batteryTargetHours: Number(p.targetHours.toFixed(2)),
    batteryPlanMet: p.met,
    batteryPlan: p.chosen
      ? `${p.chosen.variant} ${p.mode === 'continuous' ? `${p.fps} fps` : `every ${p.intervalS} s`}`
      : 'none',
    batteryPlanEnergySource: p.energy.source,
    batteryPlannedW: p.averageW,
  };
  if (s.predictedHours !== undefined) out.batteryPredictedHours = s.predictedHours;
  if (s.predictedEndMs !== undefined) out.batteryPredictedEndTs = Math.round(s.predictedEndMs);
  if (s.measuredDrainW !== undefined) out.batteryMeasuredW = Number(s.measuredDrainW.toFixed(3));
  if (s.remainingWh !== undefined) out.batteryRemainingWh = Number(s.remainingWh.toFixed(2));
  return out;
}

/** The battery plan in force as the dashboard shows it: predicted life, planned and measured drain. */
export interface BatteryPlanReading {
  predictedHours?: number;
  targetHours: number;
  met: boolean;
  plannedW: number;
  measuredW?: number;
  /** Whether the plan's energy model is measured by the device's sensor or estimated. */
  energySource: string;
}

/** The dashboard's readings: the plan's predicted life and planned vs measured drain. */
export function batteryReadings(s: BatteryStatus | undefined): { batteryPlan?: BatteryPlanReading } {
  if (!s?.active || !s.plan) return {};
  return {
    batteryPlan: {
      ...(s.predictedHours !== undefined ? { predictedHours: s.predictedHours } : {}),
      targetHours: Number(s.plan.targetHours.toFixed(2)),
      met: s.plan.met,
      plannedW: s.plan.averageW,
      energySource: s.plan.energy.source,
      ...(s.measuredDrainW !== undefined ? { measuredW: Number(s.measuredDrainW.toFixed(3)) } : {}),
    },
  };
}
