import { describe, expect, it } from 'vitest';
import { capturedFrame } from '../../../src/camera/prepared.js';
import type { FrameTarget } from '../../../src/camera/types.js';
import { toImageBox } from '../../../src/image/geometry.js';
import { preprocess } from '../../../src/inference/preprocess.js';
import type { InputSpec } from '../../../src/models/manifest.js';
import { contentImage, TensorPreparer, targetFor } from '../../../src/pipeline/prepare.js';

const YOLOX: InputSpec = {
  name: 'images',
  layout: 'NCHW',
  dtype: 'float32',
  width: 416,
  height: 416,
  colorOrder: 'BGR',
  resize: { mode: 'letterbox', align: 'top-left', padValue: 114 },
  normalize: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
};

function randomImage(width: number, height: number, seed = 1): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  let x = seed;
  for (let i = 0; i < data.length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    data[i] = x >> 23;
  }
  return data;
}

/** A frame as a capture process delivers it for `target`: gbrp planes, or interleaved in its colour order. */
const preparedFrame = (
  canvasRgb: Uint8Array,
  target: FrameTarget,
  sourceWidth: number,
  sourceHeight: number,
) => capturedFrame(canvasRgb, target, sourceWidth, sourceHeight, 'test');

describe('TensorPreparer', () => {
  it.each([
    ['YOLOX (BGR, no normalisation)', YOLOX],
    [
      'SqueezeNet-like (RGB, mean/std)',
      {
        ...YOLOX,
        colorOrder: 'RGB',
        normalize: { scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      },
    ],
  ] as Array<[string, InputSpec]>)(
    'planes path, %s: exactly the tensor the generic path makes from the same pixels',
    async (_name, spec) => {
      const canvas = randomImage(416, 416);
      const generic = await preprocess({ data: canvas, width: 416, height: 416, channels: 3 }, spec);
      const target = targetFor(spec);
      expect(target.planar).toBe(true);
      const prepared = await new TensorPreparer().prepare(preparedFrame(canvas, target, 416, 416), spec);
      expect(prepared.path).toBe('planes');
      expect(prepared.dims).toEqual([1, 3, 416, 416]);
      expect(Buffer.compare(Buffer.from(prepared.data.buffer), Buffer.from(generic.data.buffer))).toBe(0);
    },
  );

  it('fill path: an interleaved prepared frame for a float NHWC model', async () => {
    const spec: InputSpec = { ...YOLOX, layout: 'NHWC' };
    const canvas = randomImage(416, 416);
    const generic = await preprocess({ data: canvas, width: 416, height: 416, channels: 3 }, spec);
    const prepared = await new TensorPreparer().prepare(
      preparedFrame(canvas, targetFor(spec), 416, 416),
      spec,
    );
    expect(prepared.path).toBe('fill');
    expect(Buffer.compare(Buffer.from(prepared.data.buffer), Buffer.from(generic.data.buffer))).toBe(0);
  });

  it('zero-copy path: a uint8 NHWC variant takes the frame buffer itself', async () => {
    const spec: InputSpec = { ...YOLOX, dtype: 'uint8', layout: 'NHWC' };
    const frame = preparedFrame(randomImage(416, 416), targetFor(spec), 640, 480);
    const p = await new TensorPreparer().prepare(frame, spec);
    expect(p.path).toBe('zero-copy');
    expect(p.data).toBe(frame.data);
    expect(p.dims).toEqual([1, 416, 416, 3]);
    expect([p.imageWidth, p.imageHeight]).toEqual([640, 480]);
    expect(p.inverse).toEqual(frame.prepared!.inverse);
    expect(p.buffer).toBeUndefined();
  });

  it('sharp path: a frame prepared for another model (during a switch) still maps boxes to camera pixels', async () => {
    const frame = preparedFrame(randomImage(416, 416), targetFor(YOLOX), 640, 480);
    const other: InputSpec = { ...YOLOX, width: 320, height: 320, colorOrder: 'RGB' };
    const p = await new TensorPreparer().prepare(frame, other);
    expect(p.path).toBe('sharp');
    expect([p.imageWidth, p.imageHeight]).toEqual([640, 480]);
    // The whole picture on the 320 canvas (0..320 × 0..240) is the whole camera image.
    const box = toImageBox(0, 0, 320, 240, p.inverse);
    expect(box[0]).toBeCloseTo(0, 5);
    expect(box[2]).toBeCloseTo(640, 0);
    expect(box[3]).toBeCloseTo(480, 0);
  });

  it('reuses tensor buffers once released; a model with another input size gets new ones', async () => {
    const preparer = new TensorPreparer();
    const frame = preparedFrame(randomImage(416, 416), targetFor(YOLOX), 416, 416);
    const a = await preparer.prepare(frame, YOLOX);
    const b = await preparer.prepare(frame, YOLOX);
    expect(a.data).not.toBe(b.data);
    preparer.release(a);
    const c = await preparer.prepare(frame, YOLOX);
    expect(c.data).toBe(a.data);
    expect(preparer.poolSize).toBe(2);
    await preparer.prepare({ ...frame, prepared: undefined }, { ...YOLOX, width: 224, height: 224 });
    expect(preparer.poolSize).toBe(1);
  });
});

describe('contentImage', () => {
  it.each([true, false])(
    'cuts the scaled camera image out of the canvas, back in RGB (planar %s)',
    (planar) => {
      const canvas = randomImage(416, 416, 7);
      const frame = preparedFrame(canvas, { ...targetFor(YOLOX), planar }, 640, 480);
      const { image, scaleX, scaleY } = contentImage(frame);
      expect([image.width, image.height]).toEqual([416, 312]);
      expect(scaleX).toBeCloseTo(416 / 640);
      expect(scaleY).toBeCloseTo(312 / 480);
      const at = (x: number, y: number) => [...canvas.subarray((y * 416 + x) * 3, (y * 416 + x) * 3 + 3)];
      expect([...image.data.subarray((10 * 416 + 5) * 3, (10 * 416 + 5) * 3 + 3)]).toEqual(at(5, 10));
    },
  );
});
