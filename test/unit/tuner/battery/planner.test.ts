import { describe, expect, it } from 'vitest';
import type { PlanCandidate } from '../../../../src/tuner/battery/energy.js';
import { planBatteryLife, quantiseRate } from '../../../../src/tuner/battery/planner.js';
import { powerModelFor } from '../../../../src/tuner/battery/power-model.js';

// Pi 4 defaults: idle 2.7 W, active 6.4 W on 4 cores → 0.925 W per busy core; camera 1 W, wake 1.5 s.
const pi4 = powerModelFor('raspberry-pi-4', false);
const fp32: PlanCandidate = {
  variant: 'fp32',
  executionProvider: 'cpu',
  threads: 1,
  fidelity: 1,
  latencyMs: 100,
  cpuMsPerInference: 100,
};
const int8: PlanCandidate = {
  variant: 'int8',
  executionProvider: 'cpu',
  threads: 1,
  fidelity: 0.96,
  latencyMs: 60,
  cpuMsPerInference: 60,
};
const base = { candidates: [fp32, int8], power: pi4, cores: 4 };

describe('planBatteryLife (pure, table)', () => {
  const cases: Array<{
    name: string;
    input: Partial<Parameters<typeof planBatteryLife>[0]> & { targetHours: number; remainingWh: number };
    expect: {
      met: boolean;
      variant?: string;
      fps?: number;
      intervalS?: number;
      source?: string;
      reason?: RegExp;
    };
  }> = [
    {
      name: 'reachable: the cheaper variant does more useful work (fidelity × rate) and lasts the target',
      input: { targetHours: 12, remainingWh: 50 },
      expect: { met: true, variant: 'int8', fps: 8.4, source: 'estimated', reason: /most useful work/ },
    },
    {
      name: 'unreachable: the idle draw alone is above the budget; says so with the best achievable life',
      input: { targetHours: 12, remainingWh: 30 },
      expect: {
        met: false,
        reason: /cannot last 12 h on 30 Wh: the best is 11\.1 h .* idle draw alone \(2\.7 W\) lasts 11\.1 h/,
      },
    },
    {
      name: 'min-fps floor above what the energy allows: unmet',
      input: { targetHours: 12, remainingWh: 50, minFps: 10 },
      expect: { met: false, reason: /cannot last 12 h/ },
    },
    {
      name: 'min-fps floor within reach: met, above the floor',
      input: { targetHours: 12, remainingWh: 50, minFps: 5 },
      expect: { met: true, variant: 'int8', fps: 8.4 },
    },
    {
      name: 'a floor only fp32 can not reach in time: fp32 too slow, int8 chosen',
      input: { targetHours: 1, remainingWh: 500, minFps: 12 },
      expect: { met: true, variant: 'int8', fps: 16.66 },
    },
    {
      // The camera wake (1.5 J) dominates each frame, so the faster variant buys almost no extra
      // frames and the higher fidelity wins: 1.0 × 1/5.4 s ≈ 0.96 × 1/5.2 s within 1 %, lower draw.
      name: 'below one frame per 5 s: a duty cycle with the camera released; the wake cost dominates',
      input: { targetHours: 12, remainingWh: 36 },
      expect: { met: true, variant: 'fp32', intervalS: 5.4 },
    },
    {
      name: 'maxIntervalS floor the duty cycle cannot keep: unmet',
      input: { targetHours: 12, remainingWh: 33, maxIntervalS: 10 },
      expect: { met: false, reason: /one frame every 10 s/ },
    },
    {
      name: 'fidelity floor removes int8',
      input: { targetHours: 12, remainingWh: 50, fidelityFloor: 0.98 },
      expect: { met: true, variant: 'fp32', fps: 5.04 },
    },
    {
      name: 'measured: sensor J/inference and idle; the sensor figure minus idle during the run',
      input: {
        targetHours: 12,
        remainingWh: 50,
        measured: { idleW: 2.0, cameraW: 0.8 },
        candidates: [{ ...int8, energyPerInferenceJ: 0.26 }],
      },
      // marginal 0.26 − 2.0 × 0.06 = 0.14 J; budget 4.1667 − 2.8 = 1.3667 W → 9.76/s
      expect: { met: true, variant: 'int8', fps: 9.76, source: 'measured' },
    },
    {
      name: 'J/inference measured but idle not: the plan is still marked estimated',
      input: { targetHours: 12, remainingWh: 50, candidates: [{ ...int8, energyPerInferenceJ: 0.26 }] },
      expect: { met: true, variant: 'int8', source: 'estimated' },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const plan = planBatteryLife({ ...base, ...c.input });
      expect(plan.met).toBe(c.expect.met);
      if (c.expect.variant) expect(plan.chosen?.variant).toBe(c.expect.variant);
      if (c.expect.fps !== undefined) expect(plan.fps).toBe(c.expect.fps);
      if (c.expect.intervalS !== undefined) {
        expect(plan.mode).toBe('duty-cycle');
        expect(plan.intervalS).toBe(c.expect.intervalS);
      }
      if (c.expect.source) expect(plan.energy.source).toBe(c.expect.source);
      if (c.expect.reason) expect(plan.reason).toMatch(c.expect.reason);
      if (plan.met) expect(plan.predictedHours).toBeGreaterThanOrEqual(c.input.targetHours);
      else expect(plan.predictedHours).toBeLessThan(c.input.targetHours);
      expect(plan.candidates.filter((x) => x.verdict === 'chosen')).toHaveLength(plan.chosen ? 1 : 0);
    });
  }

  it('the prediction is the energy divided by the modelled draw', () => {
    const plan = planBatteryLife({ ...base, targetHours: 12, remainingWh: 50 });
    // 2.7 idle + 1 camera + 0.0555 J × 8.4/s
    expect(plan.averageW).toBeCloseTo(3.7 + 0.0555 * 8.4, 3);
    expect(plan.predictedHours).toBeCloseTo(50 / (3.7 + 0.0555 * 8.4), 2);
  });

  it('learned extra draw lowers the rate', () => {
    const a = planBatteryLife({ ...base, targetHours: 12, remainingWh: 50 });
    const b = planBatteryLife({ ...base, targetHours: 12, remainingWh: 50, extraW: 0.2 });
    expect(b.fps!).toBeLessThan(a.fps!);
    expect(b.met).toBe(true);
  });

  it('a learned drain factor scales every modelled watt: the rate falls so that factor × draw fits the budget', () => {
    const b = planBatteryLife({ ...base, targetHours: 12, remainingWh: 50, drainFactor: 1.1 });
    // budget 50/12 W; modelled draw = 3.7 + 0.0555 J × fps must fit in budget / 1.1
    const fps = Math.floor(((50 / 12 / 1.1 - 3.7) / 0.0555) * 100) / 100;
    expect(b.fps).toBeCloseTo(fps, 2);
    expect(b.averageW).toBeCloseTo((3.7 + 0.0555 * fps) * 1.1, 3);
    expect(b.energy.drainFactor).toBe(1.1);
    expect(b.predictedHours).toBeGreaterThanOrEqual(12);
    // × 1.5: not even the camera-on floor fits; a duty cycle with the camera released does.
    const c = planBatteryLife({ ...base, targetHours: 12, remainingWh: 60, drainFactor: 1.5 });
    expect(c).toMatchObject({ met: true, mode: 'duty-cycle' });
    expect(c.averageW).toBeLessThanOrEqual(60 / 12);
  });

  it('no candidates: cannot plan', () => {
    const plan = planBatteryLife({ ...base, candidates: [], targetHours: 4, remainingWh: 50 });
    expect(plan.chosen).toBeNull();
    expect(plan.reason).toMatch(/no candidate measured/);
  });

  it('quantises fps down and intervals up', () => {
    expect(quantiseRate(8.419)).toMatchObject({ mode: 'continuous', fps: 8.41 });
    expect(quantiseRate(1 / 37.2)).toMatchObject({ mode: 'duty-cycle', intervalS: 38 });
    expect(quantiseRate(1 / 5.18)).toMatchObject({ mode: 'duty-cycle', intervalS: 5.2 });
    // One frame per 5 s releases the camera (the pipeline does at an interval ≥ 5 s): a duty cycle,
    // also when an fps rounds down to it; re-quantising a plan's rate keeps its mode.
    expect(quantiseRate(0.2)).toMatchObject({ mode: 'duty-cycle', intervalS: 5 });
    expect(quantiseRate(0.2049)).toMatchObject({ mode: 'duty-cycle', intervalS: 5 });
    expect(quantiseRate(quantiseRate(0.2).ratePerS)).toMatchObject({ mode: 'duty-cycle' });
    expect(quantiseRate(0.21)).toMatchObject({ mode: 'continuous', fps: 0.21 });
  });
});

describe('planBatteryLife keeps the current candidate within the switch margin', () => {
  const a: PlanCandidate = {
    variant: 'a',
    executionProvider: 'cpu',
    threads: 1,
    fidelity: 1,
    latencyMs: 50,
    cpuMsPerInference: 60,
  };
  const b: PlanCandidate = { ...a, variant: 'b', cpuMsPerInference: 58 };
  const input = { candidates: [a, b], power: pi4, cores: 4, targetHours: 12, remainingWh: 50 };

  it('b does ~3 % more work: chosen from scratch, but a is kept when it runs now', () => {
    expect(planBatteryLife(input).chosen?.variant).toBe('b');
    const kept = planBatteryLife({
      ...input,
      current: { variant: 'a', executionProvider: 'cpu', threads: 1 },
    });
    expect(kept.chosen?.variant).toBe('a');
    expect(kept.reason).toMatch(/^kept/);
    expect(kept.predictedHours).toBeGreaterThanOrEqual(12);
  });

  it('a rival better by more than the margin replaces it', () => {
    const c: PlanCandidate = { ...a, variant: 'c', cpuMsPerInference: 40 };
    const plan = planBatteryLife({
      ...input,
      candidates: [a, c],
      current: { variant: 'a', executionProvider: 'cpu', threads: 1 },
    });
    expect(plan.chosen?.variant).toBe('c');
  });
});
