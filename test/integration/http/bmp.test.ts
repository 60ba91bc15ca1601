import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectImage, knownUnsupported, SNIFF_BYTES, sniffFormat } from '../../../src/image/limits.js';
import { requireTool } from '../../helpers/system-tools.js';
import { type Served, serveSamples } from './fixture.js';

/**
 * BMP uploads: the libvips inside sharp's prebuilt binaries has no BMP loader (ImageMagick would
 * be needed), so a BMP is refused with 415 naming BMP and the accepted formats, whatever
 * Content-Type it claims, instead of a 400 "not an image we recognise" (or a 415 about the header).
 * Should sharp ever decode BMP here, the first test fails: then allow it under the same pixel limit.
 */
const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg');

describe.skipIf(!hasFfmpeg)('a BMP image', () => {
  let dir: string;
  let bmp: Buffer;
  let s: Served;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ea-bmp-'));
    const file = path.join(dir, 'frame.bmp');
    // A real BMP (BITMAPINFOHEADER, 24-bit) written by ffmpeg's encoder.
    execFileSync('ffmpeg', [
      '-loglevel',
      'error',
      '-f',
      'lavfi',
      '-i',
      'testsrc=size=64x48',
      '-frames:v',
      '1',
      '-y',
      file,
    ]);
    bmp = readFileSync(file);
    s = await serveSamples();
  }, 120_000);
  afterAll(async () => {
    await s?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('cannot be decoded by sharp/libvips on this machine (why it is refused)', async () => {
    expect(bmp.subarray(0, 2).toString('latin1')).toBe('BM');
    await expect(sharp(bmp).metadata()).rejects.toThrow(/unsupported image format/);
  });

  it('is named by the sniffer and refused as unsupported, not as unrecognised', async () => {
    const head = bmp.subarray(0, SNIFF_BYTES);
    expect(sniffFormat(head)).toBeUndefined();
    expect(knownUnsupported(head)).toBe('BMP');
    // Two bytes of "BM" alone are not enough to call a text a bitmap.
    expect(knownUnsupported(Buffer.from('BMW owners club, no header here'))).toBeUndefined();
    await expect(inspectImage(bmp, { maxPixels: 1e6 })).rejects.toThrow(
      /BMP is not accepted \(raster formats only: jpeg, png, webp, gif, tiff, avif\)/,
    );
  });

  it('POST /api/infer answers 415 naming BMP and the supported formats, whatever the Content-Type', async () => {
    for (const type of ['image/bmp', 'image/x-ms-bmp', 'application/octet-stream', 'image/png']) {
      const res = await fetch(`${s.url}/api/infer`, {
        method: 'POST',
        headers: { 'Content-Type': type },
        body: new Uint8Array(bmp),
      });
      expect(res.status, type).toBe(415);
      expect(((await res.json()) as { error: string }).error).toMatch(
        /BMP is not accepted \(raster formats only: jpeg, png, webp, gif, tiff, avif\)/,
      );
    }
    // A type that is no image at all: the answer lists what may be sent.
    const text = await fetch(`${s.url}/api/infer`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: 'hello',
    });
    expect(text.status).toBe(415);
    expect(((await text.json()) as { error: string }).error).toMatch(/JPEG, PNG, WebP, GIF, TIFF or AVIF/);
  });
});
