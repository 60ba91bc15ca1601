import { planResize } from '../image/geometry.js';
import type { Frame, FrameTarget, PreparedGeometry } from './types.js';

/** How a frame scaled (and padded) to `target` relates to the camera image of that size. Pure. */
export function preparedGeometry(
  sourceWidth: number,
  sourceHeight: number,
  target: FrameTarget,
): PreparedGeometry {
  const plan = planResize(sourceWidth, sourceHeight, target);
  return {
    target,
    sourceWidth,
    sourceHeight,
    contentX: plan.placeX,
    contentY: plan.placeY,
    contentWidth: plan.cropWidth,
    contentHeight: plan.cropHeight,
    inverse: plan.inverse,
  };
}

/**
 * The frame a capture process delivers for `target` from a canvas already scaled to it (interleaved
 * RGB): gbrp planes (G, B, R) when `target.planar`, else interleaved in `target.colorOrder`. For the
 * tuner's measuring child, which measures what the pipeline does per frame with such frames. Pure.
 */
export function capturedFrame(
  canvasRgb: Uint8Array,
  target: FrameTarget,
  sourceWidth: number,
  sourceHeight: number,
  origin: string,
): Frame {
  const data = new Uint8Array(canvasRgb);
  if (target.planar) {
    const plane = target.width * target.height;
    for (let i = 0; i < plane; i++) {
      data[i] = canvasRgb[i * 3 + 1]!; // G
      data[plane + i] = canvasRgb[i * 3 + 2]!; // B
      data[2 * plane + i] = canvasRgb[i * 3]!; // R
    }
  } else if (target.colorOrder === 'BGR') {
    for (let i = 0; i < data.length; i += 3) [data[i], data[i + 2]] = [data[i + 2]!, data[i]!];
  }
  return {
    data,
    width: target.width,
    height: target.height,
    channels: 3,
    timestampMs: 0,
    seq: 0,
    origin,
    prepared: preparedGeometry(sourceWidth, sourceHeight, target),
  };
}
