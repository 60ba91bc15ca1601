import type { Frame, FrameTarget } from '../camera/types.js';
import type { ResizePlan } from '../image/geometry.js';
import type { InverseTransform, RawImage } from '../image/types.js';
import { fillTensor, preprocess } from '../inference/preprocess.js';
import type { InputSpec } from '../models/manifest.js';
import { channelAffine } from './normalise.js';

/**
 * Turns a frame into a model input tensor by the cheapest path available:
 * - `zero-copy`: the capture process already scaled/padded the frame in the model's colour order
 *   and the variant takes uint8 NHWC — the frame buffer is the tensor;
 * - `planes`: the frame is prepared as planes (NCHW models) — one typed-array copy per channel,
 *   plus a normalisation pass when the model has one;
 * - `fill`: the frame is prepared interleaved, the variant wants float — one JS pass;
 * - `sharp`: a plain frame (image folder, synthetic, or a frame prepared for another model during
 *   a model switch) is resized with sharp, then filled.
 */
export type PreparePath = 'zero-copy' | 'planes' | 'fill' | 'sharp';

export interface PreparedInput {
  frame: Frame;
  /** Identifies the input spec it was made for (a model switch may change it). */
  specKey: string;
  data: Float32Array | Uint8Array;
  dims: [number, number, number, number];
  inverse: InverseTransform;
  /** Size of the camera image the results refer to. */
  imageWidth: number;
  imageHeight: number;
  path: PreparePath;
  preprocessMs: number;
  /** Pool entry holding `data`; undefined when `data` is the frame's own buffer. */
  buffer: PoolEntry | undefined;
}

interface PoolEntry {
  data: Float32Array | Uint8Array;
  busy: boolean;
}

/** The capture-side target matching a model input (what `FrameSource.setTarget` receives). */
export function targetFor(spec: InputSpec): FrameTarget {
  return {
    width: spec.width,
    height: spec.height,
    resize: spec.resize,
    colorOrder: spec.colorOrder,
    planar: spec.layout === 'NCHW',
  };
}

export function specKey(spec: InputSpec): string {
  return JSON.stringify(spec);
}

export function sameTarget(a: FrameTarget, b: FrameTarget): boolean {
  return (
    a.width === b.width &&
    a.height === b.height &&
    a.colorOrder === b.colorOrder &&
    a.planar === b.planar &&
    JSON.stringify(a.resize) === JSON.stringify(b.resize)
  );
}

function dimsOf(spec: InputSpec): PreparedInput['dims'] {
  return spec.layout === 'NCHW' ? [1, 3, spec.height, spec.width] : [1, spec.height, spec.width, 3];
}

/** A plan that copies a whole canvas as is (the capture process did the resize and padding). */
function identityPlan(spec: InputSpec, inverse: InverseTransform): ResizePlan {
  return {
    resizeWidth: spec.width,
    resizeHeight: spec.height,
    cropLeft: 0,
    cropTop: 0,
    cropWidth: spec.width,
    cropHeight: spec.height,
    placeX: 0,
    placeY: 0,
    padValue: undefined,
    inverse,
  };
}

/**
 * The camera image inside a prepared frame (its scaled content, RGB) and the transform from that
 * image back to camera pixels — so a frame made for one model can still feed another.
 */
export function contentImage(frame: Frame): { image: RawImage; scaleX: number; scaleY: number } {
  const p = frame.prepared;
  if (!p) return { image: frame, scaleX: 1, scaleY: 1 };
  const { contentX, contentY, contentWidth: w, contentHeight: h } = p;
  const data = new Uint8Array(w * h * 3);
  if (p.target.planar) {
    // gbrp planes: G, B, R.
    const plane = frame.width * frame.height;
    for (let y = 0; y < h; y++) {
      let src = (contentY + y) * frame.width + contentX;
      let dst = y * w * 3;
      for (let x = 0; x < w; x++, src++, dst += 3) {
        data[dst] = frame.data[2 * plane + src]!;
        data[dst + 1] = frame.data[src]!;
        data[dst + 2] = frame.data[plane + src]!;
      }
    }
    return {
      image: { data, width: w, height: h, channels: 3 },
      scaleX: w / p.sourceWidth,
      scaleY: h / p.sourceHeight,
    };
  }
  const swap = p.target.colorOrder === 'BGR';
  for (let y = 0; y < h; y++) {
    let src = ((contentY + y) * frame.width + contentX) * 3;
    let dst = y * w * 3;
    for (let x = 0; x < w; x++, src += 3, dst += 3) {
      data[dst] = frame.data[src + (swap ? 2 : 0)]!;
      data[dst + 1] = frame.data[src + 1]!;
      data[dst + 2] = frame.data[src + (swap ? 0 : 2)]!;
    }
  }
  return {
    image: { data, width: w, height: h, channels: 3 },
    scaleX: w / p.sourceWidth,
    scaleY: h / p.sourceHeight,
  };
}

/** Composes "model input ← content image" with "content image ← camera image". */
function composeInverse(
  inner: InverseTransform,
  scaleX: number,
  scaleY: number,
  width: number,
  height: number,
) {
  return {
    scaleX: inner.scaleX * scaleX,
    scaleY: inner.scaleY * scaleY,
    offsetX: inner.offsetX,
    offsetY: inner.offsetY,
    imageWidth: width,
    imageHeight: height,
  };
}

/**
 * Prepares tensors into a small pool of reusable buffers: one may be in onnxruntime's hands
 * while the next frame is prepared into another (the session reads the buffer during `run`).
 */
export class TensorPreparer {
  private pool: PoolEntry[] = [];
  private poolKey = '';

  /** @param stopwatch monotonic ms for `preprocessMs` */
  constructor(private readonly stopwatch: () => number = () => performance.now()) {}

  async prepare(frame: Frame, spec: InputSpec): Promise<PreparedInput> {
    const started = this.stopwatch();
    const elapsed = (from: number) => Math.round((this.stopwatch() - from) * 1000) / 1000;
    const key = specKey(spec);
    const dims = dimsOf(spec);
    const p = frame.prepared;
    const base = { frame, specKey: key, dims };
    if (
      p &&
      sameTarget(p.target, targetFor(spec)) &&
      frame.width === spec.width &&
      frame.height === spec.height
    ) {
      const imageSize = { imageWidth: p.sourceWidth, imageHeight: p.sourceHeight, inverse: p.inverse };
      if (spec.dtype === 'uint8' && spec.layout === 'NHWC') {
        return {
          ...base,
          ...imageSize,
          data: frame.data,
          path: 'zero-copy',
          buffer: undefined,
          preprocessMs: elapsed(started),
        };
      }
      if (p.target.planar && spec.layout === 'NCHW') {
        const buffer = this.acquire(spec, key);
        fillFromPlanes(frame.data, spec, buffer.data);
        return {
          ...base,
          ...imageSize,
          data: buffer.data,
          path: 'planes',
          buffer,
          preprocessMs: elapsed(started),
        };
      }
      const buffer = this.acquire(spec, key);
      // Pixels are already in the model's colour order: fill without swapping.
      fillTensor(frame.data, identityPlan(spec, p.inverse), { ...spec, colorOrder: 'RGB' }, buffer.data);
      return {
        ...base,
        ...imageSize,
        data: buffer.data,
        path: 'fill',
        buffer,
        preprocessMs: elapsed(started),
      };
    }
    const { image, scaleX, scaleY } = contentImage(frame);
    const imageWidth = p ? p.sourceWidth : frame.width;
    const imageHeight = p ? p.sourceHeight : frame.height;
    const buffer = this.acquire(spec, key);
    try {
      const out = await preprocess(image, spec, buffer.data);
      const inverse = composeInverse(out.inverse, scaleX, scaleY, imageWidth, imageHeight);
      return {
        ...base,
        data: out.data,
        inverse,
        imageWidth,
        imageHeight,
        path: 'sharp',
        buffer,
        preprocessMs: elapsed(started),
      };
    } catch (err) {
      buffer.busy = false;
      throw err;
    }
  }

  /** Puts back a buffer that travelled to an inference worker and returned (moved, not copied). */
  reinstall(input: PreparedInput, data: Float32Array | Uint8Array): void {
    if (input.buffer) input.buffer.data = data;
    else input.frame.data = data as Uint8Array;
    input.data = data;
  }

  /** Returns a tensor's buffer to the pool once onnxruntime is done with it. */
  release(input: PreparedInput): void {
    if (input.buffer) input.buffer.busy = false;
  }

  get poolSize(): number {
    return this.pool.length;
  }

  private acquire(spec: InputSpec, key: string): PoolEntry {
    if (key !== this.poolKey) {
      // A new input spec (model switch): the old buffers are left to the garbage collector.
      this.pool = [];
      this.poolKey = key;
    }
    // A buffer lost with a crashed worker is detached (length 0): replace it.
    let entry = this.pool.find((e) => !e.busy && e.data.byteLength > 0);
    this.pool = this.pool.filter((e) => e.busy || e.data.byteLength > 0);
    if (!entry) {
      const length = 3 * spec.width * spec.height;
      entry = {
        data: spec.dtype === 'uint8' ? new Uint8Array(length) : new Float32Array(length),
        busy: false,
      };
      this.pool.push(entry);
    }
    entry.busy = true;
    return entry;
  }
}

/** gbrp plane index of each tensor channel, for the model's colour order. */
const PLANE_OF: Record<'RGB' | 'BGR', readonly [number, number, number]> = { RGB: [2, 0, 1], BGR: [1, 0, 2] };

/**
 * NCHW tensor from gbrp planes: a native typed-array copy (with conversion) per channel, then
 * `value * scale / std - mean / std` in place when the model normalises. Pure; `out` is reused.
 */
export function fillFromPlanes(
  planes: Uint8Array,
  spec: Pick<InputSpec, 'width' | 'height' | 'colorOrder' | 'normalize'>,
  out: Float32Array | Uint8Array,
): void {
  const plane = spec.width * spec.height;
  const order = PLANE_OF[spec.colorOrder];
  for (let c = 0; c < 3; c++) {
    const from = order[c]! * plane;
    out.set(planes.subarray(from, from + plane), c * plane);
    const { a, b } = channelAffine(spec.normalize, c);
    if (out instanceof Float32Array && (a !== 1 || b !== 0)) {
      const end = (c + 1) * plane;
      for (let i = c * plane; i < end; i++) out[i] = out[i]! * a + b;
    }
  }
}
