import { describe, expect, it } from 'vitest';
import {
  ActivationHistogram,
  calibratedRange,
  entropyThreshold,
  quantizeWeightsPerChannel,
  uint8Params,
} from '../../../../src/optimize/quantize/ranges.js';

/** Deterministic pseudo-random values (xorshift) so the tests need no fixtures. */
function noise(n: number, seed = 1): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

describe('ActivationHistogram', () => {
  it('keeps every value when the range grows and reports exact min/max', () => {
    const h = new ActivationHistogram(64);
    h.add([0.5, -0.25]);
    h.add([10, -3]);
    expect(h.count).toBe(4);
    expect(h.counts.reduce((a, b) => a + b, 0)).toBe(4);
    expect(h.min).toBe(-3);
    expect(h.max).toBe(10);
    expect(h.range).toBeGreaterThanOrEqual(10);
  });

  it('gives quantiles of a uniform distribution within a bin', () => {
    const h = new ActivationHistogram(2048);
    h.add(noise(100_000));
    expect(h.quantile(0.5)).toBeCloseTo(0, 1);
    expect(h.quantile(0.9)).toBeCloseTo(0.8, 1);
  });

  it('percentile ranges clip rare outliers, minmax keeps them', () => {
    const h = new ActivationHistogram();
    const values = noise(200_000);
    values[0] = 500;
    h.add(values);
    expect(calibratedRange(h, 'minmax').hi).toBe(500);
    const pct = calibratedRange(h, 'percentile', 99.99);
    expect(pct.hi).toBeLessThan(5);
    expect(pct.lo).toBeGreaterThan(-5);
    const ent = calibratedRange(h, 'entropy');
    expect(ent.hi).toBeLessThanOrEqual(500);
    expect(entropyThreshold(h)).toBeGreaterThan(0.5);
  });
});

describe('uint8Params', () => {
  it('covers the range including zero', () => {
    for (const range of [
      { lo: 0.5, hi: 2 },
      { lo: -3, hi: -1 },
      { lo: -1, hi: 7 },
    ]) {
      const { scale, zeroPoint } = uint8Params(range);
      expect(zeroPoint).toBeGreaterThanOrEqual(0);
      expect(zeroPoint).toBeLessThanOrEqual(255);
      // The representable interval covers the range (and so 0) to within one step.
      expect((0 - zeroPoint) * scale).toBeLessThanOrEqual(Math.min(range.lo, 0) + scale);
      expect((255 - zeroPoint) * scale).toBeGreaterThanOrEqual(Math.max(range.hi, 0) - scale);
    }
  });

  it('puts a ReLU range at zero point 0 (absorbed by onnxruntime)', () => {
    expect(uint8Params({ lo: 0, hi: 6 }).zeroPoint).toBe(0);
  });
});

describe('quantizeWeightsPerChannel', () => {
  it('uses ±63 with reduce-range and ±127 without, per channel', () => {
    const w = Float32Array.from([1, -2, 0.5, 0.01, 0.02, -0.04]);
    const seven = quantizeWeightsPerChannel(w, [2, 3], 0, true);
    expect(Math.max(...Array.from(seven.q, Math.abs))).toBe(63);
    expect(seven.scales[0]).toBeCloseTo(2 / 63, 6);
    expect(seven.scales[1]).toBeCloseTo(0.04 / 63, 6);
    const eight = quantizeWeightsPerChannel(w, [2, 3], 0, false);
    expect(Math.max(...Array.from(eight.q, Math.abs))).toBe(127);
    // Reconstruction error is at most half a step per channel.
    for (let i = 0; i < w.length; i++) {
      const s = eight.scales[Math.floor(i / 3)]!;
      expect(Math.abs(eight.q[i]! * s - w[i]!)).toBeLessThanOrEqual(s / 2 + 1e-9);
    }
  });

  it('quantizes along an inner axis (MatMul weights [K, N], axis 1)', () => {
    const w = Float32Array.from([1, 100, -1, -100]);
    const { scales } = quantizeWeightsPerChannel(w, [2, 2], 1, false);
    expect(scales[0]).toBeCloseTo(1 / 127, 6);
    expect(scales[1]).toBeCloseTo(100 / 127, 6);
  });
});
