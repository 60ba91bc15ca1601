import { describe, expect, it } from 'vitest';
import { planResize } from '../../../src/image/geometry.js';
import { fillTensor } from '../../../src/inference/preprocess.js';

describe('fillTensor', () => {
  // A 2×1 RGB image: red then blue.
  const pixels = new Uint8Array([255, 0, 0, 0, 0, 255]);
  const plan = planResize(2, 1, {
    width: 2,
    height: 2,
    resize: { mode: 'letterbox', align: 'top-left', padValue: 114 },
  });

  it('writes NCHW in BGR order with padding and normalisation', () => {
    const t = fillTensor(pixels, plan, {
      width: 2,
      height: 2,
      layout: 'NCHW',
      dtype: 'float32',
      colorOrder: 'BGR',
      normalize: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
    });
    // plane 0 = B, plane 2 = R; row 1 is padding.
    expect(Array.from(t)).toEqual([0, 255, 114, 114, 0, 0, 114, 114, 255, 0, 114, 114]);
  });

  it('applies (x*scale - mean)/std per channel in RGB order', () => {
    const t = fillTensor(pixels, plan, {
      width: 2,
      height: 2,
      layout: 'NCHW',
      dtype: 'float32',
      colorOrder: 'RGB',
      normalize: { scale: 1, mean: [127, 127, 127], std: [128, 128, 128] },
    });
    expect(t[0]).toBeCloseTo(1, 5);
    expect(t[1]).toBeCloseTo(-127 / 128, 5);
    expect(t[2]).toBeCloseTo((114 - 127) / 128, 5);
  });

  it('writes uint8 NHWC untouched for in-graph preprocessing', () => {
    const t = fillTensor(pixels, plan, {
      width: 2,
      height: 2,
      layout: 'NHWC',
      dtype: 'uint8',
      colorOrder: 'RGB',
      normalize: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
    });
    expect(t).toBeInstanceOf(Uint8Array);
    expect(Array.from(t)).toEqual([255, 0, 0, 0, 0, 255, 114, 114, 114, 114, 114, 114]);
  });
});
