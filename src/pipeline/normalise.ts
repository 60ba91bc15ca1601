import type { InputSpec } from '../models/manifest.js';

/**
 * True when preparing a frame for `spec` takes a multiply-add per value in JavaScript (a float
 * model that normalises: `fillFromPlanes`), rather than native typed-array copies only. Such a
 * loop is cheap with V8's JIT and about doubles the CPU per frame on the lean runtime
 * (docs/memory.md, "The lean runtime"); the model's `input-uint8` variant does it in the graph. Pure.
 */
export function normalisesInJavaScript(spec: Pick<InputSpec, 'dtype' | 'normalize'>): boolean {
  if (spec.dtype !== 'float32') return false;
  return [0, 1, 2].some((c) => {
    const { a, b } = channelAffine(spec.normalize, c);
    return a !== 1 || b !== 0;
  });
}

/** Channel `c`'s normalisation as `value · a + b` (a = scale / std, b = −mean / std). Pure. */
export function channelAffine(normalize: InputSpec['normalize'], c: number): { a: number; b: number } {
  const { scale, mean, std } = normalize;
  return { a: scale / std[c]!, b: -mean[c]! / std[c]! };
}
