import { open } from 'node:fs/promises';
import { errorMessage, ImageDecodeError } from '../errors.js';
import { loadSharp } from './sharp.js';

/**
 * Guards against decompression bombs: a 249 KB PNG can declare 16000×16000 pixels (768 MB once
 * decoded) and a 120-byte SVG any size at all. Before anything is decoded, the format is sniffed
 * from the first bytes (raster formats only: no SVG, PDF or other vector or scriptable input) and
 * the size is read from the header and checked against a pixel limit; libvips enforces the same
 * limit again while decoding.
 */

/** The formats we decode: what cameras and photo tools produce. Vector and document formats are not. */
export const RASTER_FORMATS = ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const;
export type RasterFormat = (typeof RASTER_FORMATS)[number];

/** For error messages: what an upload may be. */
export const ACCEPTED_IMAGES_TEXT =
  'JPEG, PNG, WebP, GIF, TIFF or AVIF (Content-Type image/jpeg, image/png, ... or application/octet-stream)';

/**
 * The default pixel limit: 4096 × 3072 (12.6 Mpx). It covers the largest cameras the agent supports
 * (4K UHD and DCI video, the Raspberry Pi HQ camera's 4056 × 3040 and Camera Module 3's
 * 4608 × 2592 stills); decoded as RGB that is 36 MiB.
 */
export const DEFAULT_MAX_INPUT_PIXELS = 4096 * 3072;

export interface ImageLimits {
  /** Width × height above this is refused before decoding. */
  maxPixels: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxPixels: DEFAULT_MAX_INPUT_PIXELS };

/** The image declares more pixels than allowed (HTTP 413). */
export class ImageTooLargeError extends ImageDecodeError {
  override name = 'ImageTooLargeError';
}

/** Not a raster format we decode (SVG, PDF, HEIC, ...) (HTTP 415). */
export class UnsupportedImageError extends ImageDecodeError {
  override name = 'UnsupportedImageError';
}

/** How many leading bytes `sniffFormat` needs. */
export const SNIFF_BYTES = 64;

const ascii = (b: Uint8Array, start: number, text: string) =>
  b.length >= start + text.length && [...text].every((c, i) => b[start + i] === c.charCodeAt(0));

/** The raster format from an image's first bytes (magic numbers), or undefined. Pure. */
export function sniffFormat(head: Uint8Array): RasterFormat | undefined {
  if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (ascii(head, 0, '\x89PNG\r\n\x1a\n')) return 'png';
  if (ascii(head, 0, 'RIFF') && ascii(head, 8, 'WEBP')) return 'webp';
  if (ascii(head, 0, 'GIF87a') || ascii(head, 0, 'GIF89a')) return 'gif';
  if (ascii(head, 0, 'II*\0') || ascii(head, 0, 'MM\0*')) return 'tiff';
  if (ascii(head, 4, 'ftyp')) {
    // ISO-BMFF: the major brand and the compatible brands up to the end of the ftyp box.
    const size = ((head[0]! << 24) | (head[1]! << 16) | (head[2]! << 8) | head[3]!) >>> 0;
    const end = Math.min(head.length, size);
    for (let at = 8; at + 4 <= end; at += 4) {
      if (at === 12) continue; // minor version
      if (ascii(head, at, 'avif') || ascii(head, at, 'avis')) return 'avif';
    }
  }
  return undefined;
}

/** A known format we refuse (vector, document, HEIC), named from its first bytes; else undefined. */
export function knownUnsupported(head: Uint8Array): string | undefined {
  const text = Buffer.from(head).toString('latin1').trimStart().toLowerCase();
  if (text.startsWith('<svg') || (text.startsWith('<?xml') && text.includes('<svg'))) return 'SVG';
  if (text.startsWith('<?xml') || text.startsWith('<!doctype') || text.startsWith('<html')) return 'XML/HTML';
  if (text.startsWith('%pdf')) return 'PDF';
  if (text.startsWith('%!ps')) return 'PostScript';
  if (ascii(head, 4, 'ftyp')) return 'HEIF/HEIC or video';
  if (isBmp(head)) return 'BMP';
  return undefined;
}

/**
 * A Windows bitmap: `BM`, then (at byte 14) the size of a DIB header that exists (OS/2 12 and 64,
 * BITMAPINFOHEADER 40, v2 52, v3 56, v4 108, v5 124). The libvips in sharp's prebuilt binaries has
 * no BMP loader (it needs ImageMagick), so BMP is refused by name instead of as unrecognised.
 */
function isBmp(head: Uint8Array): boolean {
  if (!ascii(head, 0, 'BM') || head.length < 18) return false;
  const dib = (head[14]! | (head[15]! << 8) | (head[16]! << 16) | (head[17]! << 24)) >>> 0;
  return [12, 40, 52, 56, 64, 108, 124].includes(dib);
}

/** Is width × height within the limit? The message says both sizes. Pure. */
export function checkPixels(width: number, height: number, limits: ImageLimits): void {
  const pixels = width * height;
  if (!(pixels <= limits.maxPixels)) {
    const mpx = (n: number) => `${(n / 1e6).toFixed(1)} Mpx`;
    throw new ImageTooLargeError(
      `image is ${width}x${height} (${mpx(pixels)}), more than the ${mpx(limits.maxPixels)} allowed (inference.maxInputPixels)`,
    );
  }
}

export interface ImageHeader {
  format: RasterFormat;
  width: number;
  height: number;
}

async function readHead(input: Buffer | string): Promise<Uint8Array> {
  if (typeof input !== 'string') return input.subarray(0, SNIFF_BYTES);
  const file = await open(input, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await file.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Reads an image's format and size without decoding its pixels, and refuses what must not be
 * decoded: non-raster formats and images above the pixel limit.
 */
export async function inspectImage(input: Buffer | string, limits: ImageLimits): Promise<ImageHeader> {
  const what = typeof input === 'string' ? input : `${input.length}-byte buffer`;
  let head: Uint8Array;
  try {
    head = await readHead(input);
  } catch (err) {
    throw new ImageDecodeError(`cannot read image ${what}: ${errorMessage(err)}`, { cause: err });
  }
  const format = sniffFormat(head);
  if (!format) {
    const known = knownUnsupported(head);
    const accepted = `raster formats only: ${RASTER_FORMATS.join(', ')}`;
    if (known)
      throw new UnsupportedImageError(`cannot decode image ${what}: ${known} is not accepted (${accepted})`);
    throw new ImageDecodeError(`cannot decode image ${what}: not an image we recognise (${accepted})`);
  }
  let width: number | undefined;
  let height: number | undefined;
  try {
    // Header only: libvips reads the size without decoding pixels.
    ({ width, height } = await (await loadSharp())(input, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw new ImageDecodeError(`cannot decode image ${what}: ${errorMessage(err).split('\n')[0]}`, {
      cause: err,
    });
  }
  if (!width || !height) throw new ImageDecodeError(`cannot decode image ${what}: no size in its header`);
  try {
    checkPixels(width, height, limits);
  } catch (err) {
    throw new ImageTooLargeError(`cannot decode image ${what}: ${errorMessage(err)}`);
  }
  return { format, width, height };
}
