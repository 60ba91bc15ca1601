import type { Frame } from '../camera/types.js';
import { loadSharp } from '../image/sharp.js';
import type { FrameResult } from './pipeline.js';
import { contentImage } from './prepare.js';

/** Drawing results onto frames for the live view: an SVG overlay composited by sharp. */

const PALETTE = ['#ff3b30', '#34c759', '#007aff', '#ff9500', '#af52de', '#5ac8fa', '#ffcc00', '#ff2d55'];

export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

/**
 * The overlay for one result on an image of `width × height` showing the camera image scaled by
 * `scale`: boxes with labels for detections, the top classes for classification, and a caption.
 */
export function overlaySvg(result: FrameResult, width: number, height: number, scale: number): string {
  const font = Math.max(11, Math.round(Math.min(width, height) / 32));
  const stroke = Math.max(2, Math.round(font / 6));
  const parts: string[] = [];
  if (result.task === 'detection') {
    for (const d of result.detections ?? []) {
      const [x1, y1, x2, y2] = d.box.map((v) => v * scale) as [number, number, number, number];
      const color = PALETTE[d.classId % PALETTE.length]!;
      const label = `${escapeXml(d.label)} ${Math.round(d.score * 100)}%`;
      const labelWidth = Math.round(label.length * font * 0.6) + 6;
      const ly = y1 - font - 4 < 0 ? y1 : y1 - font - 4;
      parts.push(
        `<rect x="${r1(x1)}" y="${r1(y1)}" width="${r1(x2 - x1)}" height="${r1(y2 - y1)}" fill="none" stroke="${color}" stroke-width="${stroke}"/>`,
        `<rect x="${r1(x1)}" y="${r1(ly)}" width="${labelWidth}" height="${font + 4}" fill="${color}"/>`,
        `<text x="${r1(x1 + 3)}" y="${r1(ly + font)}" font-size="${font}" fill="#fff">${label}</text>`,
      );
    }
  } else {
    (result.classes ?? []).slice(0, 3).forEach((c, i) => {
      const y = 6 + (i + 1) * (font + 6);
      const text = `${escapeXml(c.label)} ${(c.score * 100).toFixed(1)}%`;
      parts.push(
        `<rect x="4" y="${y - font - 2}" width="${Math.round(text.length * font * 0.6) + 8}" height="${font + 6}" fill="#000" fill-opacity="0.55"/>`,
        `<text x="8" y="${y}" font-size="${font}" fill="#fff">${text}</text>`,
      );
    });
  }
  const caption = `${escapeXml(result.model)}/${escapeXml(result.variant)} · ${result.timings.inferenceMs.toFixed(1)} ms · #${result.seq}`;
  const cy = height - 6;
  parts.push(
    `<rect x="0" y="${cy - font - 2}" width="${Math.round(caption.length * font * 0.55) + 10}" height="${font + 8}" fill="#000" fill-opacity="0.55"/>`,
    `<text x="5" y="${cy}" font-size="${font}" fill="#fff">${caption}</text>`,
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, Verdana, sans-serif">${parts.join('')}</svg>`;
}

const r1 = (v: number) => Math.round(v * 10) / 10;

export interface AnnotateOptions {
  quality: number;
  /** Wider images are scaled down for the stream. */
  maxWidth: number;
}

/**
 * The frame as the camera saw it (for frames scaled by the capture process: the scaled camera
 * image inside the model canvas), with the result drawn on it, as JPEG.
 */
export async function annotateFrame(
  frame: Frame,
  result: FrameResult,
  options: AnnotateOptions,
): Promise<Buffer> {
  const sharp = await loadSharp();
  const { image } = contentImage(frame);
  const sourceWidth = frame.prepared?.sourceWidth ?? frame.width;
  let size = { width: image.width, height: image.height };
  let pipeline = sharp(image.data, { raw: { ...size, channels: 3 } });
  if (image.width > options.maxWidth) {
    size = {
      width: options.maxWidth,
      height: Math.max(1, Math.round((image.height * options.maxWidth) / image.width)),
    };
    const scaled = await pipeline.resize(size.width, size.height, { fit: 'fill' }).raw().toBuffer();
    pipeline = sharp(scaled, { raw: { ...size, channels: 3 } });
  }
  const scale = size.width / sourceWidth;
  const svg = overlaySvg(result, size.width, size.height, scale);
  return pipeline
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .jpeg({ quality: options.quality, mozjpeg: false })
    .toBuffer();
}
