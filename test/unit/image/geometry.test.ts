import { describe, expect, it } from 'vitest';
import { planResize, toImageBox } from '../../../src/image/geometry.js';

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
