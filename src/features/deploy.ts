import { closeSync, existsSync, fsyncSync, openSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import type { CrashPoint } from '../fleet/deploy/crash-points.js';
import type { Deployer } from '../fleet/deploy/deployer.js';
import { DeployError } from '../fleet/deploy/errors.js';
import { installNewModel, manifestConflict, removeNewModel } from '../fleet/deploy/install-model.js';
import type { DeployManifest } from '../fleet/deploy/manifest.js';
import type { DeployStore } from '../fleet/deploy/state.js';
import { defineCommand, MODEL_LOCK } from '../fleet/router.js';
import { type Catalog, DEPLOYED_MODELS_DIR, readLabels } from '../models/catalog.js';
import { atomicWrite, writeDerivedVariant } from '../models/derived-store.js';
import { effectiveInputSpec } from '../models/manifest.js';
import { signedDocumentSchema } from '../trust/envelope.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';

export interface DeployFeatureDeps {
  deployer: Deployer;
  store: DeployStore;
  /** Re-publishes the retained info (its `update` block changed). */
  infoChanged?(): Promise<void> | void;
  switchTo(model: string, variant: string): Promise<void>;
  active(): { model: string; variant: string } | undefined;
  /** Makes the rolled-back-to variant the one the agent starts with (the config file). */
  persist?(model: string, variant: string): Promise<void>;
}

/** `deploy-model`, `rollback-model`, `list-deployments`: signed model deployment (docs/deploy.md). */
export function deployFeature(deps: DeployFeatureDeps): Feature {
  return {
    name: 'deploy',
    commands: {
      'deploy-model': defineCommand({
        summary:
          'Deploys a signed model manifest: verified, validated in a child process, health-checked, rolled back on failure',
        params: z.strictObject({ manifest: signedDocumentSchema }),
        mutates: true,
        lock: MODEL_LOCK,
        run: ({ manifest }, ctx) => {
          const { accepted, done } = deps.deployer.start(manifest);
          void done.then((update) => {
            ctx.progress({ ...update });
            return deps.infoChanged?.();
          });
          void deps.infoChanged?.();
          return {
            accepted: { model: accepted.model, variant: accepted.variant, version: accepted.version },
          };
        },
      }),
      'rollback-model': defineCommand({
        summary: 'Switches a model back to its previous deployed version',
        params: z.strictObject({ model: z.string().check(z.minLength(1), z.maxLength(64)) }),
        mutates: true,
        lock: MODEL_LOCK,
        run: async ({ model }) => {
          const { from, to } = await rollbackModel(deps, model);
          await deps.infoChanged?.();
          return { from, to };
        },
      }),
      'list-deployments': defineCommand({
        summary: 'Installed deployed versions and the state of the latest deployment',
        params: z.strictObject({}),
        mutates: false,
        cost: 'light',
        run: () => ({ update: deps.deployer.update(), versions: deps.store.versions() }),
      }),
    },
    // A deployment a restart interrupted continues from its recorded step (docs/fleet-security.md).
    start: () => {
      void deps.deployer.recover()?.then(() => deps.infoChanged?.());
    },
    stop: () => deps.deployer.stop(),
  };
}

/**
 * `rollback-model`: the previous deployed version serves (switched to, then configured, then
 * recorded — a crash in between leaves the config and the running model agreeing after restart).
 * Refusals and failures are DeployErrors (step `rollback`) naming what still serves.
 */
export async function rollbackModel(
  deps: Pick<DeployFeatureDeps, 'store' | 'switchTo' | 'active' | 'persist'>,
  model: string,
): Promise<{ from: string; to: string }> {
  const versions = deps.store.versions(model);
  const active = versions.find((v) => v.status === 'active');
  const previous = versions.find((v) => v.status === 'previous');
  const listed = versions.map((v) => `v${v.version} ${v.status}`).join(', ') || 'none';
  if (!active)
    throw new DeployError('rollback', `${model}: no deployed version is active (deployed: ${listed})`);
  if (!previous)
    throw new DeployError(
      'rollback',
      `${model}: no previous deployed version to roll back to (deployed: ${listed}); ${active.variantId} still serves`,
    );
  const serving = deps.active();
  try {
    await deps.switchTo(model, previous.variantId);
  } catch (err) {
    throw new DeployError(
      'rollback',
      `${model}: cannot switch to ${previous.variantId} (v${previous.version}): ${errorMessage(err)}; ${serving?.variant ?? active.variantId} still serves`,
      { cause: err },
    );
  }
  try {
    await deps.persist?.(model, previous.variantId);
  } catch (err) {
    // Not configured: serving it now would be undone by the next restart. Back to where we were.
    if (serving) await deps.switchTo(serving.model, serving.variant).catch(() => undefined);
    throw new DeployError(
      'rollback',
      `${model}: cannot write ${previous.variantId} to the config file: ${errorMessage(err)}; ${serving?.variant ?? active.variantId} still serves`,
      { cause: err },
    );
  }
  deps.store.rollBack(active, previous);
  return { from: active.variantId, to: previous.variantId };
}

/**
 * Installs a verified file: as a variant of a catalog model (`<dataDir>/models/<model>/`), or, for
 * a model the catalog does not have, as a new model from the deployment's model manifest
 * (`<dataDir>/deployed-models/<model>/`).
 */
export function catalogInstaller(deps: {
  catalog(): Catalog;
  reloadCatalog(): Promise<unknown>;
  /** TEST ONLY: crash points inside the atomic write (crash-points.ts). */
  crash?(point: CrashPoint): void;
}) {
  return async (manifest: DeployManifest, variantId: string, file: string): Promise<void> => {
    const model = manifest.model;
    const catalog = deps.catalog();
    const entry = catalog.models().find((m) => m.manifest.name === model);
    const root = catalog.derivedRoot && path.join(path.dirname(catalog.derivedRoot), DEPLOYED_MODELS_DIR);
    // A deployed new model that was never committed (rolled back) is installed again whole.
    const again =
      entry &&
      root &&
      path.dirname(entry.dir) === path.resolve(root) &&
      entry.manifest.defaultVariant === variantId;
    if (!entry || (again && manifest.manifest)) {
      const carried = manifest.manifest;
      if (!carried)
        throw new Error(
          `install: model "${model}" is not in the catalog; a new model's deployment must carry its "manifest"`,
        );
      if (!root) throw new Error('install: no data directory for deployed models');
      await installNewModel(root, { ...manifest, manifest: carried }, variantId, file);
      await deps.reloadCatalog();
      return;
    }
    if (manifest.manifest) {
      const conflict = manifestConflict(entry.manifest, await readLabels(entry), manifest.manifest);
      if (conflict) throw new Error(`install: ${conflict}`);
    }
    // Temp copies a killed install left behind (the rename never happened).
    await removeStaleTemps(path.join(catalog.derivedRoot ?? '', model), `${variantId}.onnx`);
    const bytes = await readFile(file);
    try {
      await writeDerivedVariant({
        root: catalog.derivedRoot ?? '',
        modelName: model,
        bundledDir: entry.dir,
        shippedIds: entry.manifest.variants.map((v) => v.id),
        variant: {
          id: variantId,
          precision: manifest.precision,
          origin: {
            kind: 'derived',
            method: 'deploy',
            params: {},
            sourceVariant: entry.manifest.defaultVariant,
            sourceSha256: entry.manifest.variants[0]?.sha256 ?? '0'.repeat(64),
          },
          reference: null,
        },
        bytes,
        fileSteps: {
          synced: () => deps.crash?.('install-fsynced'),
          renamed: () => deps.crash?.('install-renamed'),
        },
      });
    } catch (err) {
      throw new Error(`install: ${errorMessage(err)}`, { cause: err });
    }
    // The rename is durable only once the folder's entry is on disk.
    fsyncDir(path.join(catalog.derivedRoot ?? '', model));
    await deps.reloadCatalog();
  };
}

/** Deletes `.<name>.<random>.tmp` files (atomicWrite's temp copies) a crash left in `dir`. */
async function removeStaleTemps(dir: string, name: string): Promise<void> {
  const entries = await readdir(dir).catch(() => [] as string[]);
  const stale = entries.filter((e) => e.startsWith(`.${name}.`) && e.endsWith('.tmp'));
  await Promise.all(stale.map((e) => rm(path.join(dir, e), { force: true })));
}

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * What the deployment checks need to know of a catalog model (and of one of its variants, when
 * named): task, input, decoder, labels and the variant's file. Undefined for an unknown model or
 * a named variant it does not have.
 */
export async function describeCatalogVariant(catalog: Catalog, model: string, variant?: string) {
  const entry = catalog.models().find((m) => m.manifest.name === model);
  if (!entry) return undefined;
  const v = variant === undefined ? undefined : entry.variants.find((x) => x.id === variant);
  if (variant !== undefined && !v) return undefined;
  return {
    task: entry.manifest.task,
    input: effectiveInputSpec(entry.manifest.input, v ?? {}),
    decoder: entry.manifest.decoder,
    labels: await readLabels(entry),
    ...(v ? { file: v.path } : {}),
  };
}

/**
 * Removes what a refused deployment installed, so that no later tune, `set-model` or restart can
 * choose it: a variant of a catalog model (its manifest entry, then its file), or — when the
 * deployment brought a new model — that model whole (`<dataDir>/deployed-models/<model>/`, and the
 * variants derived from it on the device). Never what is serving now.
 */
export function catalogRemover(deps: {
  catalog(): Catalog;
  reloadCatalog(): Promise<unknown>;
  active(): { model: string; variant: string } | undefined;
}) {
  return async (model: string, variantId: string): Promise<void> => {
    const active = deps.active();
    if (active?.model === model && active.variant === variantId) return;
    const catalog = deps.catalog();
    const entry = catalog.models().find((m) => m.manifest.name === model);
    if (!entry || !catalog.derivedRoot) return;
    const root = path.join(path.dirname(catalog.derivedRoot), DEPLOYED_MODELS_DIR);
    const newModel =
      path.dirname(entry.dir) === path.resolve(root) && entry.manifest.defaultVariant === variantId;
    if (newModel) {
      if (active?.model === model) return;
      await removeNewModel(root, model);
      await rm(path.join(catalog.derivedRoot, model), { recursive: true, force: true });
    } else await removeInstalledVariant(catalog.derivedRoot, model, variantId);
    await deps.reloadCatalog();
  };
}

/** Removes a deployed variant: its manifest entry first (atomically), then its file. */
export async function removeInstalledVariant(root: string, model: string, variantId: string): Promise<void> {
  const dir = path.join(root, model);
  const manifestPath = path.join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return; // not a derived variant (a deployed new model's first one stays)
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
    variants: Array<{ id: string; file: string }>;
  };
  const entry = manifest.variants.find((v) => v.id === variantId);
  if (!entry) return;
  manifest.variants = manifest.variants.filter((v) => v.id !== variantId);
  await atomicWrite(manifestPath, Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  await rm(path.join(dir, path.basename(entry.file)), { force: true });
}
