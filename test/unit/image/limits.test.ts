import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage } from '../../../src/image/decode.js';
import {
  checkPixels,
  DEFAULT_MAX_INPUT_PIXELS,
  ImageTooLargeError,
  inspectImage,
  SNIFF_BYTES,
  sniffFormat,
  UnsupportedImageError,
} from '../../../src/image/limits.js';
import { IMAGES } from '../../helpers/paths.js';

const head = (b: Buffer) => b.subarray(0, SNIFF_BYTES);
const solid = (format: 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'avif') =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } })
    .toFormat(format)
    .toBuffer();

describe('sniffFormat', () => {
  it.each(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const)(
    'recognises %s written by sharp',
    async (f) => {
      expect(sniffFormat(head(await solid(f)))).toBe(f);
    },
  );

  it.each([
    ['SVG', '<svg xmlns="http://www.w3.org/2000/svg" width="100000" height="100000"/>'],
    ['XML-prefixed SVG', '<?xml version="1.0"?><svg/>'],
    ['PDF', '%PDF-1.7\n'],
    ['HEIC', '\0\0\0\x18ftypheic\0\0\0\0mif1heic'],
    ['text', 'hello'],
    ['empty', ''],
  ])('refuses %s', (_name, text) => {
    expect(sniffFormat(Buffer.from(text, 'latin1'))).toBeUndefined();
  });
});

describe('checkPixels', () => {
  it('accepts up to the limit and refuses one pixel more', () => {
    expect(() => checkPixels(4096, 3072, { maxPixels: DEFAULT_MAX_INPUT_PIXELS })).not.toThrow();
    expect(() => checkPixels(4097, 3072, { maxPixels: DEFAULT_MAX_INPUT_PIXELS })).toThrow(
      ImageTooLargeError,
    );
  });
});

describe('inspectImage / decodeImage', () => {
  it('reads a photo header from a file and a buffer', async () => {
    const file = path.join(IMAGES, 'coco_val2017/000000086956.jpg');
    const limits = { maxPixels: DEFAULT_MAX_INPUT_PIXELS };
    expect(await inspectImage(file, limits)).toEqual({ format: 'jpeg', width: 480, height: 640 });
    expect(await inspectImage(readFileSync(file), limits)).toEqual({
      format: 'jpeg',
      width: 480,
      height: 640,
    });
  });

  it('refuses an image over the limit before decoding it', async () => {
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#000' } })
      .png()
      .toBuffer();
    await expect(decodeImage(png, { maxPixels: 300 * 200 - 1 })).rejects.toThrow(ImageTooLargeError);
    await expect(decodeImage(png, { maxPixels: 300 * 200 - 1 })).rejects.toThrow(/300x200/);
    expect((await decodeImage(png, { maxPixels: 300 * 200 })).width).toBe(300);
  });

  it('refuses an SVG as an unsupported format', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>');
    await expect(decodeImage(svg)).rejects.toThrow(UnsupportedImageError);
  });
});
