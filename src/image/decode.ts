import { errorMessage, ImageDecodeError } from '../errors.js';
import type { ResizePlan } from './geometry.js';
import { DEFAULT_IMAGE_LIMITS, type ImageLimits, inspectImage } from './limits.js';
import { loadSharp } from './sharp.js';
import type { RawImage } from './types.js';

/**
 * Decodes an encoded image (JPEG, PNG, WebP, ...) or a file path to RGB pixels, EXIF orientation
 * applied. Non-raster formats and images above `limits.maxPixels` are refused before decoding
 * (typed errors from limits.ts).
 */
export async function decodeImage(
  input: Buffer | string,
  limits: ImageLimits = DEFAULT_IMAGE_LIMITS,
): Promise<RawImage> {
  await inspectImage(input, limits);
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(input, { failOn: 'error', limitInputPixels: limits.maxPixels })
      .autoOrient()
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels, expected 3`);
    return { data, width: info.width, height: info.height, channels: 3 };
  } catch (err) {
    const what = typeof input === 'string' ? input : `${input.length}-byte buffer`;
    // libvips repeats its complaint on several lines; the first says what is wrong.
    const reason = errorMessage(err).split('\n')[0];
    throw new ImageDecodeError(`cannot decode image ${what}: ${reason}`, { cause: err });
  }
}

/** Resizes (and crops) an RGB image with sharp as the plan says; returns the copied region's pixels. */
export async function resizeForPlan(image: RawImage, plan: ResizePlan): Promise<Uint8Array> {
  const sharp = await loadSharp();
  let pipeline = sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } });
  if (plan.resizeWidth !== image.width || plan.resizeHeight !== image.height) {
    pipeline = pipeline.resize(plan.resizeWidth, plan.resizeHeight, { fit: 'fill' });
  }
  if (plan.cropWidth !== plan.resizeWidth || plan.cropHeight !== plan.resizeHeight) {
    pipeline = pipeline.extract({
      left: plan.cropLeft,
      top: plan.cropTop,
      width: plan.cropWidth,
      height: plan.cropHeight,
    });
  }
  const { data } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return data;
}
