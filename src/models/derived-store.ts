import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { compareText } from '../collate.js';
import { errorMessage, ModelLoadError } from '../errors.js';
import { sha256Hex } from './integrity.js';
import { type DerivedManifest, manifestSchemas, type Variant } from './manifest.js';

export interface WriteDerivedOptions {
  /** `<dataDir>/models`: derived variants of model X go to `<root>/X/`. */
  root: string;
  modelName: string;
  /** Folder of the bundled model; nothing is ever written inside it. */
  bundledDir: string;
  /** Ids of the bundled variants: a derived variant may not take one. */
  shippedIds: readonly string[];
  /** The manifest entry without file, sha256 and bytes (filled in here). */
  variant: Omit<Variant, 'file' | 'sha256' | 'bytes'>;
  bytes: Uint8Array;
  /** Called once the model file's temp copy is flushed, and once it is renamed (crash tests). */
  fileSteps?: AtomicWriteSteps;
}

export interface AtomicWriteSteps {
  synced?(): void;
  renamed?(): void;
}

export interface WrittenVariant {
  variant: Variant;
  path: string;
  manifestPath: string;
}

/**
 * Writes a derived variant and its manifest entry atomically: the ONNX file and then the manifest
 * are each written to a temporary file, flushed and renamed, so a crash leaves either the old state
 * or the new one. If the manifest cannot be written the new ONNX file is removed again.
 */
export async function writeDerivedVariant(options: WriteDerivedOptions): Promise<WrittenVariant> {
  const dir = path.resolve(options.root, options.modelName);
  const bundled = path.resolve(options.bundledDir);
  if (dir === bundled || dir.startsWith(bundled + path.sep) || bundled.startsWith(dir + path.sep)) {
    throw new ModelLoadError(
      `refusing to write derived variants into ${dir}: it overlaps the bundled model folder ${bundled}`,
    );
  }
  if (options.shippedIds.includes(options.variant.id)) {
    throw new ModelLoadError(
      `variant id "${options.variant.id}" is a shipped variant of ${options.modelName}; choose another id`,
    );
  }
  await mkdir(dir, { recursive: true });
  const manifestPath = path.join(dir, 'manifest.json');
  const manifest = await readDerivedManifest(manifestPath, options.modelName);
  const file = `${options.variant.id}.onnx`;
  const filePath = path.join(dir, file);
  const variant: Variant = {
    ...options.variant,
    file,
    sha256: sha256Hex(options.bytes),
    bytes: options.bytes.length,
  };
  const existed = existsSync(filePath);
  await atomicWrite(filePath, options.bytes, options.fileSteps);
  const variants = manifest.variants.filter((v) => v.id !== variant.id);
  variants.push(variant);
  variants.sort((a, b) => compareText(a.id, b.id));
  try {
    await atomicWrite(
      manifestPath,
      Buffer.from(`${JSON.stringify({ name: options.modelName, variants }, null, 2)}\n`),
    );
  } catch (err) {
    if (!existed) await rm(filePath, { force: true });
    throw new ModelLoadError(`${manifestPath}: cannot write manifest (${errorMessage(err)})`, { cause: err });
  }
  return { variant, path: filePath, manifestPath };
}

async function readDerivedManifest(file: string, name: string): Promise<DerivedManifest> {
  if (!existsSync(file)) return { name, variants: [] };
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ModelLoadError(
      `${file}: not valid JSON (${errorMessage(err)}); fix or delete it before deriving`,
      { cause: err },
    );
  }
  const parsed = manifestSchemas().derivedManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new ModelLoadError(
      `${file}: invalid derived manifest (${lines.join('; ')}); fix or delete it before deriving`,
    );
  }
  if (parsed.data.name !== name)
    throw new ModelLoadError(`${file}: manifest is for model "${parsed.data.name}", not "${name}"`);
  return parsed.data;
}

/** Writes to a temporary file in the same folder, flushes it, renames it over the target and flushes the folder. */
export async function atomicWrite(
  target: string,
  bytes: Uint8Array,
  steps?: AtomicWriteSteps,
): Promise<void> {
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    steps?.synced?.();
    await rename(tmp, target);
    steps?.renamed?.();
    // The rename is durable only once the folder's entry is: before anything refers to the file.
    const dir = await open(path.dirname(target), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
