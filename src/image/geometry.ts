import type { ResizeSpec } from '../models/manifest.js';
import type { InverseTransform } from './types.js';

/** The canvas an image is fitted into (a model input, or a capture target) and how. */
export interface ResizeTarget {
  width: number;
  height: number;
  resize: ResizeSpec;
}

/**
 * Where the original image lands in the model input: the size it is resized to, the crop taken
 * from the resized image, and where it is placed on the input canvas. Pure, so it is tested alone.
 */
export interface ResizePlan {
  /** Size the whole image is resized to. */
  resizeWidth: number;
  resizeHeight: number;
  /** Region of the resized image copied into the input (a centre crop, or all of it). */
  cropLeft: number;
  cropTop: number;
  cropWidth: number;
  cropHeight: number;
  /** Top-left corner of the copied region on the input canvas (letterbox placement). */
  placeX: number;
  placeY: number;
  /** Pixel value (0-255) for the canvas outside the copied region; undefined when fully covered. */
  padValue: number | undefined;
  inverse: InverseTransform;
}

// Each mode spells out its whole plan (no shared defaults object), so a plan reads in one place.
export function planResize(width: number, height: number, spec: ResizeTarget): ResizePlan {
  const W = spec.width;
  const H = spec.height;
  const resize = spec.resize;
  switch (resize.mode) {
    case 'stretch':
      return {
        resizeWidth: W,
        resizeHeight: H,
        cropLeft: 0,
        cropTop: 0,
        cropWidth: W,
        cropHeight: H,
        placeX: 0,
        placeY: 0,
        padValue: undefined,
        inverse: {
          scaleX: W / width,
          scaleY: H / height,
          offsetX: 0,
          offsetY: 0,
          imageWidth: width,
          imageHeight: height,
        },
      };
    case 'letterbox': {
      const r = Math.min(W / width, H / height);
      // Rounded the way sharp sizes a `fit: inside` resize: the golden references were made so, and
      // YOLOX scores move by 0.1 when the scaled height is off by one pixel. Never 0 pixels.
      const rw = Math.max(1, Math.min(W, Math.round(width * r)));
      const rh = Math.max(1, Math.min(H, Math.round(height * r)));
      const placeX = resize.align === 'center' ? Math.floor((W - rw) / 2) : 0;
      const placeY = resize.align === 'center' ? Math.floor((H - rh) / 2) : 0;
      return {
        resizeWidth: rw,
        resizeHeight: rh,
        cropLeft: 0,
        cropTop: 0,
        cropWidth: rw,
        cropHeight: rh,
        placeX,
        placeY,
        padValue: rw === W && rh === H ? undefined : resize.padValue,
        inverse: {
          scaleX: r,
          scaleY: r,
          offsetX: placeX,
          offsetY: placeY,
          imageWidth: width,
          imageHeight: height,
        },
      };
    }
    case 'center-crop': {
      const s = resize.shortSide / Math.min(width, height);
      const rw = Math.max(W, Math.round(width * s));
      const rh = Math.max(H, Math.round(height * s));
      const cropLeft = Math.floor((rw - W) / 2);
      const cropTop = Math.floor((rh - H) / 2);
      return {
        resizeWidth: rw,
        resizeHeight: rh,
        cropLeft,
        cropTop,
        cropWidth: W,
        cropHeight: H,
        placeX: 0,
        placeY: 0,
        padValue: undefined,
        inverse: {
          scaleX: rw / width,
          scaleY: rh / height,
          offsetX: -cropLeft,
          offsetY: -cropTop,
          imageWidth: width,
          imageHeight: height,
        },
      };
    }
  }
}

/** Maps a box from model-input pixels to original-image pixels, clipped to the image. */
export function toImageBox(
  x1: number,
  y1: number,
  x2: number,
  y2: number,
  t: InverseTransform,
): [number, number, number, number] {
  const clipX = (v: number) => Math.min(Math.max(v, 0), t.imageWidth);
  const clipY = (v: number) => Math.min(Math.max(v, 0), t.imageHeight);
  return [
    clipX((x1 - t.offsetX) / t.scaleX),
    clipY((y1 - t.offsetY) / t.scaleY),
    clipX((x2 - t.offsetX) / t.scaleX),
    clipY((y2 - t.offsetY) / t.scaleY),
  ];
}
