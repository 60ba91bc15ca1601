/**
 * Activation statistics and quantization parameters. Pure: tested without onnxruntime.
 *
 * A histogram covers [-R, R] in `bins` equal bins; when a value falls outside, R doubles and pairs
 * of bins merge, so one pass over the frames is enough and the result does not depend on the
 * order values arrive in within a doubling.
 */
export class ActivationHistogram {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  count = 0;
  range = 0;
  readonly counts: Float64Array;

  constructor(readonly bins = 2048) {
    if (bins % 4 !== 0) throw new Error('histogram bins must be a multiple of 4');
    this.counts = new Float64Array(bins);
  }

  add(values: ArrayLike<number>): void {
    let lo = this.min;
    let hi = this.max;
    for (let i = 0; i < values.length; i++) {
      const v = values[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) return;
    this.min = lo;
    this.max = hi;
    const needed = Math.max(Math.abs(lo), Math.abs(hi));
    if (this.range === 0) this.range = needed > 0 ? 2 ** Math.ceil(Math.log2(needed)) : 1;
    while (needed > this.range) this.grow();
    const B = this.bins;
    const k = B / (2 * this.range);
    const R = this.range;
    for (let i = 0; i < values.length; i++) {
      const b = Math.min(B - 1, Math.floor((values[i]! + R) * k));
      this.counts[b]! += 1;
    }
    this.count += values.length;
  }

  private grow(): void {
    const B = this.bins;
    const merged = new Float64Array(B);
    for (let i = 0; i < B; i++) merged[B / 4 + (i >> 1)]! += this.counts[i]!;
    this.counts.set(merged);
    this.range *= 2;
  }

  binWidth(): number {
    return (2 * this.range) / this.bins;
  }

  /** Value below which `q` (0..1) of the samples lie (bin edge, interpolated within the bin). */
  quantile(q: number): number {
    const target = q * this.count;
    let cum = 0;
    const w = this.binWidth();
    for (let b = 0; b < this.bins; b++) {
      const c = this.counts[b]!;
      if (cum + c >= target && c > 0) {
        const frac = (target - cum) / c;
        return -this.range + (b + frac) * w;
      }
      cum += c;
    }
    return this.max;
  }
}

export type RangeMethod = 'minmax' | 'percentile' | 'entropy';

export interface Range {
  lo: number;
  hi: number;
}

/** The calibrated range of one tensor by the chosen method (always within the observed min/max). */
export function calibratedRange(h: ActivationHistogram, method: RangeMethod, percentile = 99.999): Range {
  if (h.count === 0) return { lo: 0, hi: 0 };
  switch (method) {
    case 'minmax':
      return { lo: h.min, hi: h.max };
    case 'percentile': {
      const tail = (100 - percentile) / 100;
      const lo = h.min >= 0 ? h.min : Math.max(h.min, h.quantile(tail));
      const hi = h.max <= 0 ? h.max : Math.min(h.max, h.quantile(1 - tail));
      return { lo, hi };
    }
    case 'entropy': {
      // A one-sided tensor (after ReLU) gets all 256 uint8 levels on its side, a two-sided one 128.
      const t = entropyThreshold(h, h.min >= 0 ? 256 : 128);
      return { lo: Math.max(h.min, -t), hi: Math.min(h.max, t) };
    }
  }
}

/**
 * The |x| threshold minimising the KL divergence between the clipped distribution and its
 * 128-level quantized version (the TensorRT calibration method), on the folded histogram.
 */
export function entropyThreshold(h: ActivationHistogram, levels = 128): number {
  const half = h.bins / 2;
  const abs = new Float64Array(half);
  for (let b = 0; b < h.bins; b++) {
    const i = b < half ? half - 1 - b : b - half;
    abs[i]! += h.counts[b]!;
  }
  let last = half;
  while (last > 0 && abs[last - 1] === 0) last--;
  if (last <= levels) return Math.max(Math.abs(h.min), Math.abs(h.max));
  const w = h.binWidth();
  let best = last;
  let bestKl = Number.POSITIVE_INFINITY;
  const step = Math.max(1, Math.floor((last - levels) / 256));
  for (let i = levels; i <= last; i += step) {
    const p = Array.from(abs.subarray(0, i));
    let outliers = 0;
    for (let j = i; j < last; j++) outliers += abs[j]!;
    p[i - 1]! += outliers;
    // Merge i bins into `levels` levels, then spread each level evenly over its non-empty bins.
    const q = new Float64Array(i);
    for (let l = 0; l < levels; l++) {
      const start = Math.floor((l * i) / levels);
      const end = Math.floor(((l + 1) * i) / levels);
      let sum = 0;
      let nonZero = 0;
      for (let j = start; j < end; j++) {
        sum += abs[j]!;
        if (abs[j]! > 0) nonZero++;
      }
      for (let j = start; j < end; j++) q[j] = abs[j]! > 0 ? sum / nonZero : 0;
    }
    const kl = klDivergence(p, q);
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return (best + 0.5) * w;
}

function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let ps = 0;
  let qs = 0;
  for (let i = 0; i < p.length; i++) {
    ps += p[i]!;
    qs += q[i]!;
  }
  if (ps === 0 || qs === 0) return Number.POSITIVE_INFINITY;
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]! / ps;
    if (pi === 0) continue;
    const qi = q[i]! / qs;
    kl += qi > 0 ? pi * Math.log(pi / qi) : pi * 20; // mass Q cannot represent: a large penalty
  }
  return kl;
}

export interface QParams {
  scale: number;
  zeroPoint: number;
  /** Activation type: uint8 asymmetric (U8S8, the default) or int8 symmetric (S8S8). */
  type?: 'uint8' | 'int8';
}

/** Symmetric int8 parameters (zero point 0) for a range. */
export function int8Params(range: Range): QParams {
  const m = Math.max(Math.abs(range.lo), Math.abs(range.hi));
  return { scale: m < 1e-12 ? 1 : Math.fround(m / 127), zeroPoint: 0, type: 'int8' };
}

/** Asymmetric uint8 parameters for a range; the range always includes 0 (zero must be exact). */
export function uint8Params(range: Range): QParams {
  const lo = Math.min(range.lo, 0);
  const hi = Math.max(range.hi, 0);
  if (hi - lo < 1e-12) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale: Math.fround(scale), zeroPoint };
}

/**
 * Symmetric per-channel int8 weights along `axis`. With reduceRange, 7-bit values (±63): on AVX2
 * without VNNI the u8×s8 multiply pairs saturate int16 with full 8-bit weights.
 */
export function quantizeWeightsPerChannel(
  values: Float32Array,
  dims: readonly number[],
  axis: number,
  reduceRange: boolean,
): { q: Int8Array; scales: Float32Array } {
  const qmax = reduceRange ? 63 : 127;
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = dims.slice(0, axis).reduce((a, b) => a * b, 1);
  const maxAbs = new Float64Array(channels);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      for (let i = 0; i < inner; i++) maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(values[base + i]!));
    }
  const scales = new Float32Array(channels);
  for (let c = 0; c < channels; c++) scales[c] = maxAbs[c]! > 0 ? maxAbs[c]! / qmax : 1;
  const q = new Int8Array(values.length);
  for (let o = 0; o < outer; o++)
    for (let c = 0; c < channels; c++) {
      const base = (o * channels + c) * inner;
      const s = scales[c]!;
      for (let i = 0; i < inner; i++)
        q[base + i] = Math.max(-qmax, Math.min(qmax, Math.round(values[base + i]! / s)));
    }
  return { q, scales };
}
