import { describe, expect, it } from 'vitest';
import { planResize, toImageBox } from '../../../src/inference/geometry.js';
import { fillTensor } from '../../../src/inference/preprocess.js';

const letterbox = {
  width: 416,
  height: 416,
  resize: { mode: 'letterbox' as const, align: 'top-left' as const, padValue: 114 },
};

describe('planResize', () => {
  it('letterboxes a landscape image top-left and maps boxes back', () => {
    const plan = planResize(640, 426, letterbox);
    expect([plan.resizeWidth, plan.resizeHeight]).toEqual([416, 277]);
    expect([plan.placeX, plan.placeY, plan.padValue]).toEqual([0, 0, 114]);
    // A box over the whole scaled image maps back to the whole original.
    const box = toImageBox(0, 0, 416, 277, plan.inverse);
    expect(box[0]).toBe(0);
    expect(box[2]).toBe(640);
    expect(box[3]).toBeCloseTo(426, 0);
  });

  it('centres the letterbox when asked and maps back through the offset', () => {
    const plan = planResize(400, 800, { ...letterbox, resize: { ...letterbox.resize, align: 'center' } });
    expect([plan.resizeWidth, plan.resizeHeight]).toEqual([208, 416]);
    expect(plan.placeX).toBe(104);
    expect(toImageBox(104, 0, 312, 416, plan.inverse)).toEqual([0, 0, 400, 800]);
  });

  it('stretches without padding', () => {
    const plan = planResize(1280, 720, { width: 320, height: 240, resize: { mode: 'stretch' } });
    expect(plan.padValue).toBeUndefined();
    expect(toImageBox(160, 120, 320, 240, plan.inverse)).toEqual([640, 360, 1280, 720]);
  });

  it('resizes the short side then crops the centre', () => {
    const plan = planResize(451, 300, {
      width: 224,
      height: 224,
      resize: { mode: 'center-crop', shortSide: 256 },
    });
    expect([plan.resizeWidth, plan.resizeHeight]).toEqual([385, 256]);
    expect([plan.cropLeft, plan.cropTop, plan.cropWidth, plan.cropHeight]).toEqual([80, 16, 224, 224]);
  });

  it('clips mapped boxes to the image', () => {
    const plan = planResize(100, 100, { width: 100, height: 100, resize: { mode: 'stretch' } });
    expect(toImageBox(-5, -5, 120, 130, plan.inverse)).toEqual([0, 0, 100, 100]);
  });
});

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
