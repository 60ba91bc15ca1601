import { planResize } from '../image/geometry.js';
import type { FrameTarget, PreparedGeometry } from './types.js';

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
