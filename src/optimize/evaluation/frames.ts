import path from 'node:path';
import { listImages } from '../../camera/images.js';
import { errorMessage } from '../../errors.js';
import { decodeImage } from '../../image/decode.js';
import type { RawImage } from '../../image/types.js';
import { type ModelInput, preprocess } from '../../inference/preprocess.js';
import type { InputSpec } from '../../models/manifest.js';
import { packageRoot } from '../../paths.js';
import { DerivationError, throwIfAborted } from '../errors.js';
import type { ProgressFn } from '../progress.js';

/** Where calibration / evaluation frames come from: a folder, frames already in memory, or the bundled samples. */
export type FrameSource =
  | { dir: string }
  | { images: readonly RawImage[]; names?: readonly string[] }
  | undefined;

export interface LoadedFrames {
  images: RawImage[];
  names: string[];
  /** Human description for manifests and reports. */
  description: string;
}

export function defaultFramesDir(): string {
  return path.join(packageRoot(), 'samples');
}

/**
 * Evenly spaced picks (deterministic): the same folder and limit always give the same frames.
 * Exported for tests.
 */
export function pickEvenly<T>(items: readonly T[], limit: number | undefined): T[] {
  if (limit === undefined || limit >= items.length) return [...items];
  if (limit <= 0) return [];
  const out: T[] = [];
  for (let i = 0; i < limit; i++) out.push(items[Math.floor((i * items.length) / limit)]!);
  return out;
}

/** Decodes the frames of a source (at most `limit`, evenly spread). An empty folder is an error. */
export async function loadFrames(
  source: FrameSource,
  options: { limit?: number; signal?: AbortSignal; onProgress?: ProgressFn } = {},
): Promise<LoadedFrames> {
  if (source && 'images' in source) {
    if (source.images.length === 0)
      throw new DerivationError('no frames given for calibration (empty frame list)');
    const picked = pickEvenly(
      source.images.map((img, i) => ({ img, name: source.names?.[i] ?? `frame-${i}` })),
      options.limit,
    );
    for (const p of picked) {
      if (p.img.channels !== 3 || p.img.data.length !== p.img.width * p.img.height * 3) {
        throw new DerivationError(`frame ${p.name}: expected RGB pixels ${p.img.width}x${p.img.height}x3`);
      }
    }
    return {
      images: picked.map((p) => p.img),
      names: picked.map((p) => p.name),
      description: `${picked.length} given frames`,
    };
  }
  const dir = source?.dir ?? defaultFramesDir();
  let files: string[];
  try {
    files = pickEvenly(await listImages(dir), options.limit);
  } catch (err) {
    throw new DerivationError(`calibration frames: ${errorMessage(err)}; pass a folder of JPEG/PNG images`, {
      cause: err,
    });
  }
  const images: RawImage[] = [];
  const names: string[] = [];
  for (const [i, file] of files.entries()) {
    throwIfAborted(options.signal, 'loading frames');
    images.push(await decodeImage(file));
    names.push(path.basename(file));
    options.onProgress?.({ stage: 'load-frames', done: i + 1, total: files.length });
  }
  return { images, names, description: `${images.length} images from ${dir}` };
}

/** Preprocesses frames for a model input spec (the inference module's own preprocessing). */
export async function prepareInputs(images: readonly RawImage[], spec: InputSpec): Promise<ModelInput[]> {
  const out: ModelInput[] = [];
  for (const img of images) out.push(await preprocess(img, spec));
  return out;
}
