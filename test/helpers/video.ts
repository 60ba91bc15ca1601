import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { REPO } from './paths.js';

/**
 * Makes a short H.264 video from the sample photographs (each letterboxed to width × height), so
 * camera tests and benchmarks have a real video file without shipping one. Needs ffmpeg.
 */
export function makeSampleVideo(
  dir: string,
  options: { width?: number; height?: number; fps?: number; secondsPerImage?: number; name?: string } = {},
): string {
  const width = options.width ?? 640;
  const height = options.height ?? 480;
  const fps = options.fps ?? 10;
  const out = path.join(dir, options.name ?? `samples-${width}x${height}.mp4`);
  const perImage = options.secondsPerImage ?? 0.5;
  execFileSync(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-framerate',
      String(1 / perImage),
      '-pattern_type',
      'glob',
      '-i',
      path.join(REPO, 'samples', '*.jpg'),
      '-vf',
      `scale=${width}:${height}:force_original_aspect_ratio=decrease,pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2,format=yuv420p`,
      '-r',
      String(fps),
      '-c:v',
      'libx264',
      '-preset',
      'ultrafast',
      '-g',
      String(fps),
      out,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return out;
}
