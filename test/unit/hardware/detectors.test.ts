import { describe, expect, it } from 'vitest';
import {
  BandTracker,
  DebouncedFlag,
  DebouncedValue,
  ThresholdTracker,
} from '../../../src/hardware/detectors.js';
import { integrateEnergy, RingBuffer, raplIntervalJ } from '../../../src/hardware/energy.js';

describe('ThresholdTracker', () => {
  it('announces each crossing once and re-arms only past the hysteresis band', () => {
    const t = new ThresholdTracker([50, 20, 10], 3);
    expect(t.update(60)).toEqual([]); // baseline
    expect(t.update(49.5)).toEqual([{ thresholdPercent: 50, direction: 'below' }]);
    // Wobbling around 50 within the band: nothing.
    for (const p of [50, 49, 51, 52.9, 49.8]) expect(t.update(p)).toEqual([]);
    expect(t.update(53)).toEqual([{ thresholdPercent: 50, direction: 'above' }]);
    // A fast drop crosses two thresholds at once, highest first.
    expect(t.update(18)).toEqual([
      { thresholdPercent: 50, direction: 'below' },
      { thresholdPercent: 20, direction: 'below' },
    ]);
    expect(t.lowestBelow()).toBe(20);
    expect(t.update(9)).toEqual([{ thresholdPercent: 10, direction: 'below' }]);
    expect(t.update(60)).toEqual([
      { thresholdPercent: 10, direction: 'above' },
      { thresholdPercent: 20, direction: 'above' },
      { thresholdPercent: 50, direction: 'above' },
    ]);
    expect(t.lowestBelow()).toBeUndefined();
  });
  it('starts below a threshold silently', () => {
    const t = new ThresholdTracker([20], 3);
    expect(t.update(15)).toEqual([]);
    expect(t.lowestBelow()).toBe(20);
    expect(t.update(22)).toEqual([]);
    expect(t.update(23)).toEqual([{ thresholdPercent: 20, direction: 'above' }]);
  });
});

describe('DebouncedFlag / DebouncedValue / BandTracker', () => {
  it('turns on after N and off after M samples in a row', () => {
    const f = new DebouncedFlag(2, 3);
    const seq = [true, false, true, true, false, false, true, false, false, false];
    expect(seq.map((v) => f.update(v))).toEqual([
      undefined,
      undefined,
      undefined,
      true,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      false,
    ]);
  });
  it('confirms a new discrete value only after it holds', () => {
    const v = new DebouncedValue<string>(2);
    expect(v.update('mains')).toBeUndefined();
    expect(v.update('battery')).toBeUndefined();
    expect(v.update('mains')).toBeUndefined(); // a glitch, not a change
    expect(v.update('battery')).toBeUndefined();
    expect(v.update('battery')).toEqual({ from: 'mains', to: 'battery' });
    expect(v.value).toBe('battery');
  });
  it('enters below one level and leaves above another', () => {
    const b = new BandTracker(10, 20);
    expect([15, 9, 12, 19, 20, 21, 15].map((x) => b.update(x))).toEqual([
      undefined,
      true,
      undefined,
      undefined,
      undefined,
      false,
      undefined,
    ]);
    expect(() => new BandTracker(20, 10)).toThrow(RangeError);
  });
});

describe('energy integration', () => {
  it('integrates power readings with trapezoids, cutting the window edge', () => {
    const pts = [
      { timeMs: 0, powerW: 10 },
      { timeMs: 1000, powerW: 20 },
      { timeMs: 2000, powerW: 20 },
    ];
    expect(integrateEnergy(pts, 0)).toEqual({
      joules: 35,
      method: 'power-integral',
      coveredMs: 2000,
      intervals: 2,
    });
    // Half of the first interval is inside the window.
    expect(integrateEnergy(pts, 500)?.joules).toBeCloseTo(7.5 + 20, 6);
    expect(integrateEnergy(pts.slice(0, 1), 0)).toBeUndefined();
  });
  it('uses RAPL counter differences, across a wrap', () => {
    const max = 262143328850;
    const rapl = (uj: number) => [{ name: 'package-0', energyUj: uj, maxEnergyRangeUj: max }];
    const pts = [
      { timeMs: 0, rapl: rapl(max - 3_000_000) },
      { timeMs: 1000, rapl: rapl(max - 1_000_000) },
      { timeMs: 2000, rapl: rapl(4_000_000) },
    ];
    expect(integrateEnergy(pts, 0)).toEqual({
      joules: 2 + 5,
      method: 'rapl-counter',
      coveredMs: 2000,
      intervals: 2,
    });
  });
  it('falls back on power for an interval whose counter cannot be trusted', () => {
    expect(raplIntervalJ([{ name: 'a', energyUj: 10 }], [{ name: 'a', energyUj: 5 }])).toBeUndefined();
    expect(raplIntervalJ([{ name: 'a', energyUj: 10 }], [{ name: 'b', energyUj: 50 }])).toBeUndefined();
    const r = integrateEnergy(
      [
        { timeMs: 0, powerW: 4, rapl: [{ name: 'a', energyUj: 10 }] },
        { timeMs: 1000, powerW: 6, rapl: [{ name: 'a', energyUj: 5 }] },
      ],
      0,
    );
    expect(r).toEqual({ joules: 5, method: 'power-integral', coveredMs: 1000, intervals: 1 });
  });
  it('keeps the newest items in the ring buffer', () => {
    const b = new RingBuffer<number>(3);
    for (const i of [1, 2, 3, 4, 5]) b.push(i);
    expect(b.toArray()).toEqual([3, 4, 5]);
    expect(b.last()).toBe(5);
    expect(() => new RingBuffer(1)).toThrow(RangeError);
  });
});
