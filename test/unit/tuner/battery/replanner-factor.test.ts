import { describe, expect, it } from 'vitest';
import type { PlanCandidate } from '../../../../src/tuner/battery/energy.js';
import { type BatteryPlan, planBatteryLife } from '../../../../src/tuner/battery/planner.js';
import { powerModelFor } from '../../../../src/tuner/battery/power-model.js';
import { BatteryReplanner } from '../../../../src/tuner/battery/replanner.js';
import { FakeClock } from '../../../helpers/fake-clock.js';

const int8: PlanCandidate = {
  variant: 'int8',
  executionProvider: 'cpu',
  threads: 1,
  fidelity: 0.96,
  latencyMs: 60,
  cpuMsPerInference: 60,
};
const pi4 = powerModelFor('raspberry-pi-4', false);

describe('the drain factor and the energy model it corrects', () => {
  it('learned on an estimated model; once the figures are measured the factor starts again from 1', async () => {
    const clock = new FakeClock();
    let wh = 60;
    let applied: BatteryPlan | undefined;
    let measuredNow = false;
    let version = 'a';
    const events: Array<{ trigger: string; plan?: BatteryPlan }> = [];
    const r = new BatteryReplanner({
      clock,
      readBattery: async () => ({
        powerSource: 'battery',
        battery: { energyWh: wh, percent: (100 * wh) / 60 } as never,
      }),
      plan: (req) =>
        planBatteryLife({
          candidates: [int8],
          targetHours: req.targetHours,
          remainingWh: req.remainingWh,
          power: pi4,
          cores: 4,
          drainFactor: req.drainFactor,
          current: req.current,
          ...(measuredNow ? { measured: { idleW: 2.7, joulesPerInference: 0.06, cameraOnBaseW: 3.7 } } : {}),
        }),
      apply: async (p) => {
        applied = p;
      },
      restore: async () => undefined,
      events: { emit: (_t, d) => events.push(d as never) },
      inputsVersion: () => version,
      options: {
        targetHours: 12,
        everyMinutes: 600,
        drainMarginPercent: 15,
        drainWindowMinutes: 10,
        rateHysteresisPercent: 10,
        lowBatteryPercent: 5,
        checkIntervalMs: 60_000,
      },
    });
    // The battery drains at 1.4 × what the plan in force models.
    const minute = async () => {
      wh -= ((applied!.averageW / applied!.energy.drainFactor) * 1.4) / 60;
      await clock.advance(60_000);
      await r.tick();
    };
    await r.tick();
    expect(events[0]).toMatchObject({ trigger: 'on-battery' });
    expect(applied!.energy.source).toBe('estimated');
    for (let i = 0; i < 15; i++) await minute();
    const drain = events.find((e) => e.trigger === 'drain')!;
    expect(drain.plan!.energy.drainFactor).toBeCloseTo(1.4, 1);
    expect(drain.plan!.energy.source).toBe('estimated');
    // The device's sensor measured the figures: the next plan is measured and drops the factor.
    measuredNow = true;
    version = 'b';
    await minute();
    const last = events[events.length - 1]!;
    expect(last.trigger).toBe('candidates');
    expect(last.plan!.energy).toMatchObject({ source: 'measured', drainFactor: 1 });
  });
});
