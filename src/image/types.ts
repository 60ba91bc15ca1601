/** An image as interleaved 8-bit pixels (RGB, 3 channels) — what cameras deliver and sharp decodes to. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** Maps canvas (model-input) pixel coordinates back to the original image: orig = (p - offset) / scale. */
export interface InverseTransform {
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
  imageWidth: number;
  imageHeight: number;
}
