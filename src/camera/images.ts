import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import { EdgeAgentError, errorMessage } from '../errors.js';
import { decodeImage } from '../image/decode.js';
import type { ImageLimits } from '../image/limits.js';
import type { Logger } from '../log.js';
import { generatedSource } from './generated.js';
import { type BackoffPolicy, backoffDelayMs } from './health.js';
import { SourceMonitor } from './monitor.js';
import type { FrameSource } from './types.js';

const IMAGE_EXTENSIONS = new Set([
  '.jpg',
  '.jpeg',
  '.png',
  '.webp',
  '.bmp',
  '.tif',
  '.tiff',
  '.gif',
  '.avif',
]);

export interface ImageFolderOptions {
  dir: string;
  /** Frames per second to deliver; the folder is played like a camera. */
  fps: number;
  /** False: as fast as the consumer takes them. */
  realtime?: boolean;
  /** Start over at the end (the default) or stop after one pass. */
  loop?: boolean;
  signal?: AbortSignal;
  clock?: Clock;
  log?: Logger;
  /**
   * A missing or empty folder is retried with this backoff (the camera is `offline` meanwhile), as
   * a V4L2 camera's restarts are; without it, it ends the source with an error.
   */
  backoff?: BackoffPolicy;
  random?: () => number;
  /** What may be decoded (pixel limit); the default limit when absent. */
  imageLimits?: ImageLimits;
}

/** Lists the images of a folder in name order; a folder with none is an error that says so. */
export async function listImages(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new EdgeAgentError(`image folder ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  const files = names.filter((n) => IMAGE_EXTENSIONS.has(path.extname(n).toLowerCase())).sort();
  if (files.length === 0)
    throw new EdgeAgentError(`image folder ${dir} holds no images (${[...IMAGE_EXTENSIONS].join(' ')})`);
  return files.map((n) => path.join(dir, n));
}

/**
 * `images:DIR` — plays a folder of stills as a camera at a fixed rate. Undecodable files are
 * skipped with a warning (a camera would drop a corrupt frame too); if none decodes, it fails.
 * Frames are plain RGB at each image's own size (no capture-side scaling: `setTarget` says no).
 */
export function imageFolderSource(options: ImageFolderOptions): FrameSource {
  const clock = options.clock ?? systemClock;
  const description = `images:${options.dir}`;
  const monitor = new SourceMonitor(description, clock, options.log);
  let position = 0;
  let seq = 0;
  return generatedSource({
    description,
    monitor,
    clock,
    pacing: options,
    starting: 'reading the folder',
    async *produce(signal, pace, emit) {
      const files = await waitForImages(options, monitor, clock, signal);
      let failuresInARow = 0;
      // Position and sequence carry over when capture stops and starts again (a duty cycle
      // releasing the camera): like a camera, it shows what comes next, not the first image.
      for (;;) {
        if (position >= files.length) {
          if (options.loop === false) return;
          position = 0;
        }
        const file = files[position++]!;
        if (signal.aborted) return;
        await pace();
        let image: Awaited<ReturnType<typeof decodeImage>>;
        try {
          image = await decodeImage(file, options.imageLimits);
        } catch (err) {
          options.log?.warn({ file, err: errorMessage(err) }, 'skipping undecodable image');
          monitor.error(errorMessage(err));
          if (++failuresInARow >= files.length) {
            throw new EdgeAgentError(`image folder ${options.dir}: no file could be decoded`);
          }
          continue;
        }
        failuresInARow = 0;
        yield emit({ ...image, timestampMs: clock.now(), seq: seq++, origin: path.basename(file) });
      }
    },
  });
}

/**
 * The folder's images; while it is missing or empty, retried with the backoff (state `offline`,
 * the reason and the next retry in the log), so the agent keeps serving and picks it up later.
 */
async function waitForImages(
  options: ImageFolderOptions,
  monitor: SourceMonitor,
  clock: Clock,
  signal: AbortSignal,
): Promise<string[]> {
  const random = options.random ?? Math.random;
  for (let failures = 1; ; failures++) {
    try {
      return await listImages(options.dir);
    } catch (err) {
      if (!options.backoff || signal.aborted) throw err;
      const delayMs = backoffDelayMs(failures, options.backoff, random());
      monitor.error(errorMessage(err));
      monitor.setState('offline', errorMessage(err));
      options.log?.[failures === 1 ? 'error' : 'debug'](
        { dir: options.dir, err: errorMessage(err), retryInMs: delayMs, attempt: failures },
        'image folder unavailable; retrying',
      );
      await clock.sleep(delayMs, signal);
    }
  }
}
