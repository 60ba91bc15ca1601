import { describe, expect, it } from 'vitest';
import { float16ToFloat32 } from '../../../src/inference/float16.mjs';

// The one conversion of float16 outputs (model.ts and the session threads' serve-session.mjs).
describe('float16ToFloat32', () => {
  it('converts normals, subnormals, zeros, infinities and NaN', () => {
    const bits = Uint16Array.from([
      0x3c00, // 1
      0xc000, // -2
      0x3555, // 0.333251953125
      0x7bff, // 65504, the largest
      0x0400, // 2^-14, the smallest normal
      0x0001, // 2^-24, the smallest subnormal
      0x03ff, // the largest subnormal
      0x0000,
      0x8000, // -0
      0x7c00,
      0xfc00,
      0x7e00, // NaN
    ]);
    const out = [...float16ToFloat32(bits)];
    expect(out.slice(0, 7)).toEqual([1, -2, 0.333251953125, 65504, 2 ** -14, 2 ** -24, 1023 * 2 ** -24]);
    expect(Object.is(out[7], 0)).toBe(true);
    expect(Object.is(out[8], -0)).toBe(true);
    expect(out.slice(9, 11)).toEqual([Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]);
    expect(Number.isNaN(out[11])).toBe(true);
  });

  it('orders every positive finite value by its bits, and the sign bit negates', () => {
    const all = new Uint16Array(0x10000).map((_, i) => i);
    const out = float16ToFloat32(all);
    for (let i = 0; i < 0x7bff; i++) expect(out[i + 1]!, `0x${i.toString(16)}`).toBeGreaterThan(out[i]!);
    for (let i = 0; i <= 0x7c00; i++) expect(out[i | 0x8000]).toBe(-out[i]!);
  });
});
