import { describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { constraintsFor, powerModeOptions } from '../../../src/tuner/constraints.js';
import { paretoFront } from '../../../src/tuner/pareto.js';
import { selectVariant } from '../../../src/tuner/policy.js';
import { type PowerMode, powerMode } from '../../../src/tuner/power-mode.js';
import type { Constraints, Measurement } from '../../../src/tuner/types.js';

/** A measured candidate; `spread` is the per-round p95 half-range (noise). */
function m(
  variant: string,
  p95: number,
  fidelity: number,
  o: Partial<Measurement> & { spread?: number; cpu?: number; energy?: number } = {},
): Measurement {
  const spread = o.spread ?? 0.5;
  const cpu = o.cpu ?? p95;
  return {
    variant,
    executionProvider: 'cpu',
    threads: 1,
    variantSha256: variant.padEnd(64, '0'),
    sizeBytes: 1_000_000,
    precision: 'fp32',
    status: 'ok',
    latencyMs: {
      p50: p95 * 0.9,
      p95,
      p99: p95 * 1.1,
      mean: p95 * 0.9,
      roundP95: [p95 - spread, p95 + spread],
    },
    cpuMsPerInference: cpu,
    roundCpuMs: [cpu - spread, cpu + spread],
    ...(o.energy !== undefined ? { energyPerInferenceJ: o.energy, roundEnergyJ: [o.energy, o.energy] } : {}),
    memoryBytes: 50 * 1048576,
    fidelity,
    fidelitySource: 'recorded',
    ...o,
  };
}

const base: Constraints = {
  objective: 'max-accuracy',
  latencyP95Ms: 100,
  fidelityFloor: 0.9,
  switchMarginPercent: 5,
};
const c = (o: Partial<Constraints>): Constraints => ({ ...base, ...o });

describe('selectVariant: objectives', () => {
  const set = [m('fp32', 60, 1), m('int8', 30, 0.95, { cpu: 25 }), m('prune', 20, 0.6), m('big', 150, 1)];
  it.each<[Constraints['objective'], string]>([
    ['max-accuracy', 'fp32'],
    ['min-latency', 'int8'],
    ['min-energy', 'int8'],
  ])('%s chooses %s', (objective, expected) => {
    const s = selectVariant(set, c({ objective }));
    expect(s.met).toBe(true);
    expect(s.chosen?.variant).toBe(expected);
    expect(s.candidates.find((x) => x.variant === expected)?.verdict).toBe('chosen');
    expect(s.candidates.find((x) => x.variant === 'prune')?.verdict).toBe('violates');
    expect(s.candidates.find((x) => x.variant === 'prune')?.reason).toMatch(/fidelity 0.6\d* < floor 0.9/);
    expect(s.candidates.find((x) => x.variant === 'big')?.reason).toMatch(/p95 150 ms > budget 100 ms/);
    for (const x of s.candidates) expect(x.reason.length).toBeGreaterThan(0);
  });

  it('min-energy uses joules when every candidate has them, CPU time otherwise', () => {
    const withJ = [m('a', 30, 1, { cpu: 10, energy: 0.5 }), m('b', 40, 1, { cpu: 20, energy: 0.2 })];
    expect(selectVariant(withJ, c({ objective: 'min-energy' })).chosen?.variant).toBe('b');
    const mixed = [m('a', 30, 1, { cpu: 10, energy: 0.5 }), m('b', 40, 1, { cpu: 20 })];
    const s = selectVariant(mixed, c({ objective: 'min-energy' }));
    expect(s.chosen?.variant).toBe('a');
    expect(s.reason).toMatch(/CPU-ms/);
  });

  it('targetFps tightens the latency budget', () => {
    const s = selectVariant([m('fp32', 60, 1), m('int8', 30, 0.95)], c({ targetFps: 25 }));
    expect(s.chosen?.variant).toBe('int8');
    expect(s.candidates.find((x) => x.variant === 'fp32')?.reason).toMatch(/budget 40 ms/);
  });

  it('the memory budget is a constraint', () => {
    const s = selectVariant(
      [m('fp32', 60, 1, { memoryBytes: 300 * 1048576 }), m('int8', 30, 0.95)],
      c({ memoryBudgetBytes: 200 * 1048576 }),
    );
    expect(s.chosen?.variant).toBe('int8');
  });

  it('failed and filtered candidates are listed with their reason', () => {
    const s = selectVariant(
      [
        m('fp32', 60, 1),
        { ...m('broken', 1, 1), status: 'failed', error: 'protobuf parsing failed' },
        { ...m('huge', 1, 1), status: 'filtered', error: 'needs ~900 MB, budget 512 MB' },
      ],
      base,
    );
    expect(s.candidates.map((x) => x.verdict)).toEqual(['chosen', 'failed', 'filtered']);
    expect(s.candidates[1]!.reason).toContain('protobuf parsing failed');
    expect(s.candidates[2]!.reason).toContain('900 MB');
  });
});

describe('selectVariant: ties', () => {
  it('max-accuracy: equal fidelity goes to the faster', () => {
    expect(selectVariant([m('a', 60, 1), m('b', 40, 1)], base).chosen?.variant).toBe('b');
  });
  it('min-latency: equal within noise goes to lower CPU, then fewer threads', () => {
    const s = selectVariant(
      [
        m('a', 30, 1, { threads: 2, cpu: 55, spread: 1 }),
        m('a', 30.5, 1, { threads: 1, cpu: 29, spread: 1 }),
      ],
      c({ objective: 'min-latency' }),
    );
    expect(s.chosen).toEqual({ variant: 'a', executionProvider: 'cpu', threads: 1 });
    expect(s.reason).toMatch(/equal within noise/);
  });
  it('is deterministic for identical figures (fewer threads, smaller file, id)', () => {
    const a = m('b', 30, 1, { spread: 0 });
    const b = m('a', 30, 1, { spread: 0 });
    expect(selectVariant([a, b], c({ objective: 'min-latency' })).chosen?.variant).toBe('a');
    expect(selectVariant([b, a], c({ objective: 'min-latency' })).chosen?.variant).toBe('a');
  });
});

describe('selectVariant: nothing fits', () => {
  it('says so and chooses the closest by total relative violation', () => {
    const s = selectVariant(
      [m('fp32', 300, 1), m('int8', 120, 0.85), m('prune', 50, 0.4)],
      c({ latencyP95Ms: 100 }),
    );
    expect(s.met).toBe(false);
    // fp32: 2.0 over; int8: 0.2 + 0.056; prune: 0.556.
    expect(s.chosen?.variant).toBe('int8');
    expect(s.reason).toMatch(/^nothing meets the constraints; closest is int8/);
  });
  it('no measurable candidate: no choice', () => {
    const s = selectVariant([{ ...m('x', 1, 1), status: 'failed', error: 'boom' }], base);
    expect(s.chosen).toBeNull();
    expect(s.met).toBe(false);
  });
});

describe('selectVariant: stability', () => {
  it('keeps the current choice when a rival is better only within noise + margin', () => {
    const current = { variant: 'a', executionProvider: 'cpu', threads: 1 };
    const s = selectVariant(
      [m('a', 31, 1, { spread: 1.5 }), m('b', 29, 1, { spread: 1.5 })],
      c({ objective: 'min-latency' }),
      current,
    );
    expect(s.chosen).toEqual(current);
    expect(s.changed).toBe(false);
    expect(s.reason).toMatch(/^kept a@cpu\/1t/);
  });
  it('switches when a rival is clearly better', () => {
    const s = selectVariant(
      [m('a', 31, 1, { spread: 0.5 }), m('b', 20, 1, { spread: 0.5 })],
      c({ objective: 'min-latency' }),
      { variant: 'a', executionProvider: 'cpu', threads: 1 },
    );
    expect(s.chosen?.variant).toBe('b');
    expect(s.changed).toBe(true);
  });
  it('switches when the current choice violates a constraint', () => {
    const s = selectVariant([m('a', 120, 1), m('b', 90, 0.99)], base, {
      variant: 'a',
      executionProvider: 'cpu',
      threads: 1,
    });
    expect(s.chosen?.variant).toBe('b');
    expect(s.reason).toMatch(/the current a@cpu\/1t p95 120 ms > budget/);
  });
  it('max-accuracy: a rival of equal fidelity clearly faster per frame replaces the current', () => {
    // The tuner's input-uint8 derivation of the variant it serves: the same outputs, less work per frame.
    const current = { variant: 'slim', executionProvider: 'cpu', threads: 1 };
    const s = selectVariant(
      [m('slim', 10, 0.95, { spread: 0.2 }), m('slim_u8in', 7, 0.95, { spread: 0.2 })],
      base,
      current,
    );
    expect(s.chosen?.variant).toBe('slim_u8in');
    expect(s.changed).toBe(true);
    expect(s.reason).toMatch(
      /^slim_u8in@cpu\/1t: max-accuracy equal to the current slim@cpu\/1t within noise .* p95 7 ms beats the current's 10 by more than noise \+ margin \(0\.9\)/,
    );
  });
  it('max-accuracy: equal fidelity but faster only within noise + margin, or faster at lower fidelity: kept', () => {
    const current = { variant: 'a', executionProvider: 'cpu', threads: 1 };
    const close = selectVariant(
      [m('a', 10, 0.95, { spread: 0.3 }), m('b', 9.5, 0.95, { spread: 0.3 })],
      base,
      current,
    );
    expect(close.chosen).toEqual(current);
    expect(close.reason).toMatch(/^kept a@cpu\/1t/);
    const worse = selectVariant(
      [m('a', 10, 0.95, { spread: 0.2 }), m('b', 5, 0.949, { spread: 0.2 })],
      base,
      current,
    );
    expect(worse.chosen).toEqual(current);
  });
  it('min-latency: equal p95 within noise, clearly less CPU per frame: replaces the current', () => {
    const current = { variant: 'a', executionProvider: 'cpu', threads: 1 };
    const s = selectVariant(
      [m('a', 20, 1, { spread: 1, cpu: 30 }), m('b', 19.5, 1, { spread: 1, cpu: 20 })],
      c({ objective: 'min-latency' }),
      current,
    );
    expect(s.chosen?.variant).toBe('b');
    expect(s.reason).toMatch(/its CPU time 20 CPU-ms beats the current's 30/);
  });
  it.each<Constraints['objective']>(['min-latency', 'max-accuracy'])(
    '%s: a noisy stationary machine never flaps (200 re-measurements)',
    (objective) => {
      // Two candidates 2 % apart, each measurement wobbling ±4 %: without the rule the winner flips.
      let seed = 42;
      const rand = () => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed / 2 ** 31;
      };
      let current: { variant: string; executionProvider: string; threads: number } | null = null;
      let changes = 0;
      let naiveChanges = 0;
      let naivePrev: string | undefined;
      for (let i = 0; i < 200; i++) {
        const rounds = (mean: number) => [0, 1, 2].map(() => mean * (1 + (rand() - 0.5) * 0.08));
        const ra = rounds(30);
        const rb = rounds(30.6);
        const mk = (v: string, r: number[]) => ({
          ...m(v, r.reduce((x, y) => x + y) / 3, 1),
          latencyMs: { p50: 25, p95: r.reduce((x, y) => x + y) / 3, p99: 40, mean: 25, roundP95: r },
        });
        const s = selectVariant([mk('a', ra), mk('b', rb)], c({ objective }), current);
        if (current && s.changed) changes++;
        current = s.chosen;
        const naive = selectVariant(
          [mk('a', ra), mk('b', rb)].map((x) => ({
            ...x,
            latencyMs: { ...x.latencyMs, roundP95: [x.latencyMs.p95] },
          })),
          c({ objective, switchMarginPercent: 0 }),
        );
        if (naivePrev && naive.chosen?.variant !== naivePrev) naiveChanges++;
        naivePrev = naive.chosen?.variant;
      }
      expect(changes).toBe(0);
      // The same figures decided from scratch each time, without the noise rule, do flap.
      expect(naiveChanges).toBeGreaterThan(5);
    },
  );
});

describe('pareto fronts', () => {
  it('keeps the undominated points', () => {
    expect(
      paretoFront([
        { cost: 10, fidelity: 0.9 },
        { cost: 20, fidelity: 1 },
        { cost: 30, fidelity: 0.95 },
        { cost: 5, fidelity: 0.5 },
      ]),
    ).toEqual([0, 1, 3]);
  });
  it('marks both fronts on the selection', () => {
    const s = selectVariant(
      [
        m('fp32', 60, 1, { sizeBytes: 5e6 }),
        m('int8', 30, 0.95, { sizeBytes: 1.3e6 }),
        m('fp16', 61, 1, { sizeBytes: 2.5e6 }),
      ],
      base,
    );
    const fronts = Object.fromEntries(s.pareto.map((p) => [p.variant, p.fronts]));
    expect(fronts).toEqual({
      fp32: ['latency-fidelity'],
      int8: ['latency-fidelity', 'size-fidelity'],
      fp16: ['size-fidelity'],
    });
  });
});

describe('power modes select the constraint set', () => {
  const policy = configSchema().parse({
    policy: {
      objective: 'max-accuracy',
      latencyP95Ms: 100,
      hotTemperatureC: 80,
      temperatureHysteresisC: 5,
      modes: {
        battery: { objective: 'min-latency' },
        'battery-low': { objective: 'min-energy', fidelityFloor: 0.8 },
        throttled: { objective: 'min-energy', latencyP95Ms: 200 },
      },
    },
  }).policy;
  const set = [
    m('fp32', 60, 1, { cpu: 80 }),
    m('int8', 30, 0.95, { cpu: 40 }),
    m('tiny', 35, 0.85, { cpu: 12 }),
  ];
  it.each<[PowerMode, string, string]>([
    ['mains', 'max-accuracy', 'fp32'],
    ['battery', 'min-latency', 'int8'],
    ['battery-low', 'min-energy', 'tiny'],
    ['throttled', 'min-energy', 'int8'],
  ])('%s → %s → %s', (mode, objective, variant) => {
    const k = constraintsFor(policy, mode, 1e9);
    expect(k.objective).toBe(objective);
    expect(selectVariant(set, k).chosen?.variant).toBe(variant);
  });

  it('the default config switches to min-energy on battery-low and when throttled', () => {
    const d = configSchema().parse({}).policy;
    expect(constraintsFor(d, 'mains', undefined).objective).toBe('max-accuracy');
    expect(constraintsFor(d, 'battery-low', undefined).objective).toBe('min-energy');
    expect(constraintsFor(d, 'throttled', undefined).objective).toBe('min-energy');
  });

  it('hysteresis on battery: 25 → 19 → 22 → 24 % gives battery, low, low, battery', () => {
    const opts = powerModeOptions(policy);
    let mode: PowerMode | undefined;
    const seen = [25, 19, 22, 24].map((p) => {
      mode = powerMode({ powerSource: 'battery', batteryPercent: p, throttled: false }, mode, opts);
      return mode;
    });
    expect(seen).toEqual(['battery', 'battery-low', 'battery-low', 'battery']);
  });

  it('hysteresis on temperature: 70 → 81 → 77 → 74 °C gives mains, throttled, throttled, mains', () => {
    const opts = powerModeOptions(policy);
    let mode: PowerMode | undefined;
    const seen = [70, 81, 77, 74].map((t) => {
      mode = powerMode({ powerSource: 'mains', throttled: false, temperatureC: t }, mode, opts);
      return mode;
    });
    expect(seen).toEqual(['mains', 'throttled', 'throttled', 'mains']);
  });
});
