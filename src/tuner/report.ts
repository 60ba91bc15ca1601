import type { DeviceProfile } from '../hardware/schema.js';
import { type PowerMode, powerMode } from './power-mode.js';
import type { Decision } from './types.js';

/** The decision in the shape `edge-agent tune --json`, the MQTT `tune` answer and /api/decision give. */
export function decisionJson(d: Decision) {
  return {
    model: d.model,
    chosen: d.chosen,
    mode: d.mode,
    objective: d.objective,
    constraints: d.constraints,
    met: d.met,
    reason: d.reason,
    candidates: d.candidates.map((c) => ({
      variant: c.variant,
      executionProvider: c.executionProvider,
      threads: c.threads,
      latencyMs: c.latencyMs ? { p50: c.latencyMs.p50, p95: c.latencyMs.p95, p99: c.latencyMs.p99 } : null,
      memoryBytes: c.memoryBytes ?? null,
      cpuMsPerInference: c.cpuMsPerInference ?? null,
      energyPerInferenceJ: c.energyPerInferenceJ ?? null,
      fidelity: c.fidelity ?? null,
      sizeBytes: c.sizeBytes,
      verdict: c.verdict,
      reason: c.reason,
      // Beyond the shape, useful to a reader of the record:
      fidelitySource: c.fidelitySource ?? null,
      fidelityReference: c.fidelityReference ?? null,
      ...(c.memoryExceeded ? { memoryExceeded: true, memoryCapBytes: c.memoryCapBytes ?? null } : {}),
      latencySpreadMs: c.latencyMs ? c.latencyMs.roundP95 : null,
      sessionCreateMs: c.sessionCreateMs ?? null,
      // Of the per-frame latency, preparing the frame (the pipeline's path: zero-copy, planes, fill).
      prepareMs: c.prepareMs ?? null,
      preparePath: c.preparePath ?? null,
      cached: c.cached ?? false,
    })),
    pareto: d.pareto,
    derived: d.derived,
    tookMs: d.tookMs,
    trigger: d.trigger,
    decidedAt: new Date(d.decidedAt).toISOString(),
  };
}
export type DecisionJson = ReturnType<typeof decisionJson>;

/** A one-line summary for `info` and logs. */
export function decisionSummary(d: Decision) {
  return {
    model: d.model,
    chosen: d.chosen,
    mode: d.mode,
    objective: d.objective,
    met: d.met,
    reason: d.reason,
    candidates: d.candidates.length,
    decidedAt: new Date(d.decidedAt).toISOString(),
    trigger: d.trigger,
  };
}

/** The power mode a one-shot command runs under, from the profile's readings. */
export function modeFromProfile(
  p: Pick<DeviceProfile, 'power' | 'thermal'>,
  options?: Parameters<typeof powerMode>[2],
): PowerMode {
  return powerMode(
    {
      powerSource: p.power.source,
      batteryPercent: p.power.battery?.percent,
      throttled: p.thermal.throttling.active,
      temperatureC: p.thermal.maxTempC,
    },
    undefined,
    options,
  );
}
