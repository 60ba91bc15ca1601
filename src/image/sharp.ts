import type sharpType from 'sharp';

export type Sharp = typeof sharpType;

let loading: Promise<Sharp> | undefined;

/**
 * sharp (libvips) on first use. Loading it maps libvips and its libraries (~20 MB resident) and
 * costs ~0.15 s at start, and a device serving a camera through the capture pipe never decodes or
 * resizes with it: only stills (POST /api/infer, image folders), the sharp preparation path, and
 * annotated frames (MJPEG, snapshots) load it. One decode at a time per core is plenty on a
 * device; libvips' own cache only costs memory here.
 */
export function loadSharp(): Promise<Sharp> {
  loading ??= import('sharp').then(({ default: sharp }) => {
    sharp.cache(false);
    sharp.concurrency(1);
    return sharp;
  });
  return loading;
}
