import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import type { DeviceProfile } from '../../../src/hardware/schema.js';
import { createLogger } from '../../../src/log.js';
import type { Pacing } from '../../../src/pipeline/pacing.js';
import {
  batteryReadings,
  batteryTelemetry,
  createAgentBattery,
} from '../../../src/tuner/battery/agent-battery.js';
import type { Decision } from '../../../src/tuner/types.js';
import { BatterySim } from '../../helpers/battery-sim.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const measured = (variant: string, ms: number, fidelity: number) => ({
  variant,
  executionProvider: 'cpu',
  threads: 1,
  variantSha256: variant,
  sizeBytes: 1,
  precision: 'fp32',
  status: 'ok' as const,
  latencyMs: { p50: ms, p95: ms, p99: ms, mean: ms, roundP95: [ms] },
  cpuMsPerInference: ms,
  fidelity,
  verdict: 'feasible' as const,
  reason: '',
});

const sims: BatterySim[] = [];
afterEach(() => {
  for (const s of sims.splice(0)) s.dispose();
});

describe('the battery planner in the agent (pacing, hand-back, telemetry)', () => {
  it('on battery sets the planned pacing for the tuner’s choice, back on mains restores the configured one', async () => {
    const sim = new BatterySim({ fullWh: 36, drawW: () => 3 });
    sims.push(sim);
    const config = parseConfig({
      hardware: { root: sim.root },
      policy: { batteryHours: 12 },
      power: { model: { idleW: 2.7, activeW: 6.4, cameraW: 1 } },
      pipeline: { mode: 'continuous', fps: 5 },
    });
    let decision: Decision | undefined;
    const tuned = {
      decidedAt: 1,
      chosen: { variant: 'int8', executionProvider: 'cpu', threads: 1 },
      candidates: [measured('fp32', 100, 1), { ...measured('int8', 60, 0.96), verdict: 'chosen' as const }],
    } as unknown as Decision;
    const pacings: Pacing[] = [];
    const events: Array<Record<string, unknown>> = [];
    const clock = new FakeClock();
    const battery = createAgentBattery({
      config,
      profile: async () => ({ board: { family: 'x86' }, cpu: { cores: 4 } }) as unknown as DeviceProfile,
      pipeline: { setPacing: (p) => pacings.push(p) },
      decision: () => decision,
      events: { emit: (_t, d) => events.push(d) },
      clock,
      log: createLogger({ level: 'silent' }),
    })!;
    expect(battery).toBeDefined();
    // No tuner decision yet: nothing to plan with, said as such, the pacing is left alone.
    await battery.tick();
    expect(pacings).toHaveLength(0);
    expect(events[0]).toMatchObject({
      trigger: 'on-battery',
      met: false,
      reason: 'cannot plan: no candidate measured',
    });
    // The tuner decides: the next check re-plans for its choice.
    decision = tuned;
    events.length = 0;
    await battery.tick();
    // 36 Wh over 12 h = 3 W: below one frame per 5 s with the tuner's int8, camera released.
    expect(pacings[0]).toMatchObject({ mode: 'duty-cycle', releaseCamera: true });
    expect((pacings[0] as { intervalS: number }).intervalS).toBeGreaterThanOrEqual(5);
    expect(events[0]).toMatchObject({ trigger: 'candidates', met: true, variant: 'int8' });
    const t = batteryTelemetry(battery.status());
    expect(t.batteryPredictedHours).toBeGreaterThanOrEqual(12);
    expect(t).toMatchObject({
      batteryTargetHours: 12,
      batteryPlanMet: true,
      batteryPlanEnergySource: 'estimated',
    });

    sim.setMains(true);
    await battery.tick();
    expect(pacings[1]).toEqual({ mode: 'continuous', fps: 5 });
    expect(events[1]).toMatchObject({ trigger: 'mains' });
    expect(batteryTelemetry(battery.status())).toEqual({});
    expect(batteryReadings(battery.status())).toEqual({});
  });

  it('absent without policy.batteryHours', () => {
    const battery = createAgentBattery({
      config: parseConfig({}),
      profile: async () => ({}) as DeviceProfile,
      pipeline: { setPacing: () => {} },
      decision: () => undefined,
      events: { emit: () => {} },
      clock: new FakeClock(),
      log: createLogger({ level: 'silent' }),
    });
    expect(battery).toBeUndefined();
  });
});
