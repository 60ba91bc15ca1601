import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import { EdgeAgentError, errorMessage } from '../errors.js';
import { decodeImage } from '../inference/preprocess.js';
import type { Logger } from '../log.js';
import type { Frame, FrameSource } from './types.js';

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
  /** Start over at the end (the default) or stop after one pass. */
  loop?: boolean;
  signal?: AbortSignal;
  clock?: Clock;
  log?: Logger;
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
 */
export function imageFolderSource(options: ImageFolderOptions): FrameSource {
  const clock = options.clock ?? systemClock;
  const intervalMs = 1000 / options.fps;
  return {
    description: `images:${options.dir}`,
    async *[Symbol.asyncIterator]() {
      const files = await listImages(options.dir);
      let seq = 0;
      let next = clock.now();
      for (;;) {
        let decodedThisPass = 0;
        for (const file of files) {
          if (options.signal?.aborted) return;
          const wait = next - clock.now();
          if (wait > 0) await clock.sleep(wait, options.signal);
          next = Math.max(next + intervalMs, clock.now());
          let image: Awaited<ReturnType<typeof decodeImage>>;
          try {
            image = await decodeImage(file);
          } catch (err) {
            options.log?.warn({ file, err: errorMessage(err) }, 'skipping undecodable image');
            continue;
          }
          decodedThisPass++;
          const frame: Frame = {
            ...image,
            timestampMs: clock.now(),
            seq: seq++,
            origin: path.basename(file),
          };
          yield frame;
        }
        if (decodedThisPass === 0)
          throw new EdgeAgentError(`image folder ${options.dir}: no file could be decoded`);
        if (options.loop === false) return;
      }
    },
  };
}
