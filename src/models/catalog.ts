import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, ModelLoadError } from '../errors.js';
import type { Logger } from '../log.js';
import type * as z from '../zod.js';
import { type DerivedManifest, type Manifest, manifestSchemas, type Variant } from './manifest.js';

export interface CatalogVariant extends Variant {
  /** Absolute path of the ONNX file. */
  path: string;
  /** True when it lives in the data directory (made on this device), false when bundled. */
  derived: boolean;
}

export interface ModelEntry {
  manifest: Manifest;
  /** Folder of the bundled model. */
  dir: string;
  variants: CatalogVariant[];
}

export interface CatalogDeps {
  /** Folder of bundled models, one sub-folder with manifest.json per model. */
  modelsDir: string;
  /** Agent data directory; derived variants live in `<dataDir>/models/<name>/`. */
  dataDir?: string;
  log?: Logger;
  /**
   * A bundled model's manifest cannot be read or is invalid: with this, the model is skipped (and
   * reported here) so the others still load — the agent's choice; without it, loading fails.
   */
  onBrokenManifest?: (file: string, err: unknown) => void;
}

/** Where models deployed to the device (not bundled) live: `<dataDir>/deployed-models/<name>/`. */
export const DEPLOYED_MODELS_DIR = 'deployed-models';

export class Catalog {
  constructor(
    private readonly entries: ReadonlyMap<string, ModelEntry>,
    readonly derivedRoot: string | undefined,
  ) {}

  models(): ModelEntry[] {
    return [...this.entries.values()];
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  model(name: string): ModelEntry {
    const entry = this.entries.get(name);
    if (!entry) {
      throw new ModelLoadError(`unknown model "${name}" (available: ${this.names().join(', ') || 'none'})`);
    }
    return entry;
  }

  /** The variant to run: the one asked for, else the manifest's default. */
  variant(name: string, id?: string): { model: ModelEntry; variant: CatalogVariant } {
    const model = this.model(name);
    const wanted = id ?? model.manifest.defaultVariant;
    const variant = model.variants.find((v) => v.id === wanted);
    if (!variant) {
      throw new ModelLoadError(
        `model "${name}" has no variant "${wanted}" (available: ${model.variants.map((v) => v.id).join(', ')})`,
      );
    }
    return { model, variant };
  }

  /** Where derived variants of a model are written. */
  derivedDir(name: string): string {
    if (!this.derivedRoot) throw new ModelLoadError('no data directory configured for derived variants');
    return path.join(this.derivedRoot, name);
  }
}

export async function loadCatalog(deps: CatalogDeps): Promise<Catalog> {
  const entries = new Map<string, ModelEntry>();
  let folders: string[];
  try {
    folders = (await readdir(deps.modelsDir, { withFileTypes: true }))
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
  } catch (err) {
    throw new ModelLoadError(`cannot list models in ${deps.modelsDir}: ${errorMessage(err)}`, { cause: err });
  }
  for (const folder of folders.sort()) {
    const entry = await loadModelFolder(path.resolve(deps.modelsDir, folder), deps);
    if (entry) entries.set(entry.manifest.name, entry);
  }
  // Models deployed to this device (deploy-model with a model manifest): never fatal, never over a bundled one.
  const deployedRoot = deps.dataDir ? path.join(deps.dataDir, DEPLOYED_MODELS_DIR) : undefined;
  if (deployedRoot && existsSync(deployedRoot)) {
    const deployed = (await readdir(deployedRoot, { withFileTypes: true })).filter(
      (d) => d.isDirectory() && !d.name.startsWith('.'),
    );
    for (const d of deployed.map((x) => x.name).sort()) {
      const entry = await loadModelFolder(path.join(deployedRoot, d), {
        ...deps,
        onBrokenManifest: deps.onBrokenManifest ?? (() => undefined),
      });
      if (!entry) continue;
      if (entries.has(entry.manifest.name) || entry.manifest.name !== d) {
        deps.log?.warn(
          { dir: entry.dir },
          'deployed model skipped: its name is taken or differs from its folder',
        );
        continue;
      }
      entries.set(entry.manifest.name, entry);
    }
  }
  const derivedRoot = deps.dataDir ? path.join(deps.dataDir, 'models') : undefined;
  if (derivedRoot) {
    for (const entry of entries.values()) {
      await addDerived(entry, path.join(derivedRoot, entry.manifest.name), deps.log);
    }
  }
  return new Catalog(entries, derivedRoot);
}

/** One model folder with a manifest.json; undefined when it has none or (with onBrokenManifest) it is broken. */
async function loadModelFolder(dir: string, deps: CatalogDeps): Promise<ModelEntry | undefined> {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) return undefined;
  let manifest: Manifest;
  try {
    manifest = parseManifestText(await readFile(manifestFile, 'utf8'), manifestFile);
    return {
      manifest,
      dir,
      variants: manifest.variants.map((v) => ({
        ...v,
        path: variantPath(dir, v, manifestFile),
        derived: false,
      })),
    };
  } catch (err) {
    if (!deps.onBrokenManifest) throw err;
    deps.log?.error({ file: manifestFile, err: errorMessage(err) }, 'model skipped: manifest unreadable');
    deps.onBrokenManifest(manifestFile, err);
    return undefined;
  }
}

async function addDerived(entry: ModelEntry, dir: string, log: Logger | undefined): Promise<void> {
  const file = path.join(dir, 'manifest.json');
  if (!existsSync(file)) return;
  let derived: DerivedManifest;
  try {
    derived = parseWith(
      manifestSchemas().derivedManifestSchema,
      JSON.parse(await readFile(file, 'utf8')),
      file,
    );
  } catch (err) {
    // A broken derived manifest must not take the bundled models down with it.
    log?.warn({ file, err: errorMessage(err) }, 'ignoring unreadable derived-variant manifest');
    return;
  }
  const taken = new Set(entry.variants.map((v) => v.id));
  for (const v of derived.variants) {
    if (taken.has(v.id)) {
      log?.warn({ file, variant: v.id }, 'derived variant id collides with an existing variant; skipped');
      continue;
    }
    try {
      entry.variants.push({ ...v, path: variantPath(dir, v, file), derived: true });
      taken.add(v.id);
    } catch (err) {
      log?.warn({ file, variant: v.id, err: errorMessage(err) }, 'derived variant refused');
    }
  }
}

export function parseManifestText(text: string, file: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ModelLoadError(`${file}: not valid JSON (${errorMessage(err)})`, { cause: err });
  }
  const manifest = parseWith(manifestSchemas().manifestSchema, raw, file);
  if (!manifest.variants.some((v) => v.id === manifest.defaultVariant)) {
    throw new ModelLoadError(
      `${file}: defaultVariant "${manifest.defaultVariant}" is not among the variants`,
    );
  }
  const ref = manifest.fidelityReference;
  if (ref !== undefined && !manifest.variants.some((v) => v.id === ref))
    throw new ModelLoadError(`${file}: fidelityReference "${ref}" is not among the variants`);
  return manifest;
}

function parseWith<T extends z.ZodMiniType>(schema: T, raw: unknown, file: string): z.infer<T> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
  throw new ModelLoadError(`${file}: invalid manifest:\n  ${lines.join('\n  ')}`);
}

/** Variant files must stay inside their model folder (a manifest from the fleet is untrusted). */
function variantPath(dir: string, variant: Variant, manifestFile: string): string {
  const base = path.resolve(dir);
  const resolved = path.resolve(base, variant.file);
  if (path.isAbsolute(variant.file) || !resolved.startsWith(base + path.sep)) {
    throw new ModelLoadError(
      `${manifestFile}: variant "${variant.id}" file "${variant.file}" is outside its model folder`,
    );
  }
  return resolved;
}

export async function readLabels(entry: ModelEntry): Promise<string[]> {
  const file = path.join(entry.dir, entry.manifest.labels);
  try {
    const text = await readFile(file, 'utf8');
    return text.split(/\r?\n/).filter((line, i, all) => line.length > 0 || i < all.length - 1);
  } catch (err) {
    throw new ModelLoadError(`${file}: cannot read labels (${errorMessage(err)})`, { cause: err });
  }
}
