import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { parseManifestText } from '../../models/catalog.js';
import { atomicWrite } from '../../models/derived-store.js';
import { sha256Hex } from '../../models/integrity.js';
import type { Manifest } from '../../models/manifest.js';
import { DeployError } from './errors.js';
import type { DeployManifest, NewModelManifest } from './manifest.js';

/** The catalogue manifest of a new model whose only variant is the deployed file. Pure. */
export function newModelManifest(
  m: DeployManifest & { manifest: NewModelManifest },
  variantId: string,
  file: { sha256: string; bytes: number },
): Manifest {
  const { labels: _labels, ...rest } = m.manifest;
  const text = JSON.stringify({
    ...rest,
    name: m.model,
    labels: 'labels.txt',
    defaultVariant: variantId,
    variants: [
      {
        id: variantId,
        file: `${variantId}.onnx`,
        sha256: file.sha256,
        bytes: file.bytes,
        precision: m.precision,
        origin: { kind: 'shipped' },
        reference: null,
        notes: `deployed: ${m.model}/${m.variant} version ${m.version}`,
      },
    ],
  });
  // The catalogue's own parser: what it would refuse at the next start is refused now.
  try {
    return parseManifestText(text, `deployment manifest of ${m.model}`);
  } catch (err) {
    throw new DeployError('install', (err as Error).message, { cause: err });
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Installs a new model in `<root>/<model>/` (root = `<dataDir>/deployed-models`): its model file,
 * labels.txt and manifest.json are written to a hidden temporary folder beside it, each flushed,
 * and the folder renamed into place (then the parent flushed) — a crash leaves the model fully
 * there or not at all. The name is a checked path segment, and the result must stay inside root.
 */
export async function installNewModel(
  root: string,
  m: DeployManifest & { manifest: NewModelManifest },
  variantId: string,
  file: string,
): Promise<string> {
  const base = path.resolve(root);
  const target = path.resolve(base, m.model);
  if (path.dirname(target) !== base || m.model.startsWith('.'))
    throw new DeployError('install', `model name "${m.model}" does not name a folder inside ${base}`);
  const bytes = await readFile(file);
  const manifest = newModelManifest(m, variantId, { sha256: sha256Hex(bytes), bytes: bytes.length });
  await mkdir(base, { recursive: true });
  const tmp = path.join(base, `.${m.model}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await mkdir(tmp);
    await atomicWrite(path.join(tmp, `${variantId}.onnx`), bytes);
    await atomicWrite(path.join(tmp, 'labels.txt'), Buffer.from(`${m.manifest.labels.join('\n')}\n`));
    await atomicWrite(path.join(tmp, 'manifest.json'), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
    fsyncDir(tmp);
    // A leftover folder (an install the catalogue could not read) is replaced.
    await rm(target, { recursive: true, force: true });
    await rename(tmp, target);
    fsyncDir(base);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err instanceof DeployError
      ? err
      : new DeployError('install', (err as Error).message, { cause: err });
  }
  return target;
}

/**
 * A deployment that carries a model manifest for a model the device already has: it must describe
 * the same model (task, input, decoder, labels) — a changed interface needs a new model name. Pure;
 * the reason when it differs.
 */
export function manifestConflict(
  existing: Manifest,
  labels: readonly string[],
  carried: NewModelManifest,
): string | undefined {
  for (const key of ['task', 'input', 'decoder'] as const)
    if (!isDeepStrictEqual(existing[key], carried[key]))
      return `model "${existing.name}" exists with another ${key}; deploy a changed model under a new name`;
  if (!isDeepStrictEqual([...labels], carried.labels))
    return `model "${existing.name}" exists with other labels; deploy a changed model under a new name`;
  return undefined;
}

/**
 * Removes a deployed new model (`<root>/<model>/`) whole: renamed to a hidden temporary name first
 * (the catalogue skips hidden folders, so a crash leaves it gone, never half there), the parent
 * flushed, then deleted. Same path checks as the install.
 */
export async function removeNewModel(root: string, model: string): Promise<void> {
  const base = path.resolve(root);
  const target = path.resolve(base, model);
  if (path.dirname(target) !== base || model.startsWith('.'))
    throw new DeployError('install', `model name "${model}" does not name a folder inside ${base}`);
  const tmp = path.join(base, `.${model}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await rename(target, tmp);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  fsyncDir(base);
  await rm(tmp, { recursive: true, force: true });
}
