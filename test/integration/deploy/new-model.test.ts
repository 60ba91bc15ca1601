import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogRemover, describeCatalogVariant } from '../../../src/features/deploy.js';
import { installNewModel } from '../../../src/fleet/deploy/install-model.js';
import { deploySchemas } from '../../../src/fleet/deploy/manifest.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { REPO } from '../../helpers/paths.js';
import {
  deployDevice,
  deployManifest,
  modelServer,
  SHA,
  sendModel,
  signManifest,
  ultrafaceModelManifest,
} from './support.js';

const MODELS = path.join(REPO, 'models');

let server: Awaited<ReturnType<typeof modelServer>>;
beforeAll(async () => {
  server = await modelServer({ '/faces.onnx': (_req, res) => sendModel(res) });
});
afterAll(() => server.close());

/** A device whose catalog, installer and model views are the real ones; the pipeline is a counter. */
async function device() {
  /** Inference errors the next health window will see (a scripted pipeline counter). */
  let errors = 0;
  let failedTotal = 0;
  const d = await deployDevice({
    limits: { validateMemoryMB: 512, healthWindowMs: 1000, minInferences: 5 },
    host: (dev) => ({
      remove: catalogRemover({ catalog: dev.catalog, reloadCatalog: dev.reloadCatalog, active: dev.active }),
      // A failure counter that grows by `errors` at each reading (a window sees the growth).
      health: () => {
        failedTotal += errors;
        return { processed: 0, failed: failedTotal, latencyP95Ms: undefined };
      },
      checks: {
        describe: (model, variant) => describeCatalogVariant(dev.catalog(), model, variant),
      },
    }),
  });
  return {
    ...d,
    failNextWindow: (n: number) => {
      errors = n;
    },
  };
}

/** The bundled UltraFace file shipped as a model the device has never seen ("faces"). */
const newModel = (over: Record<string, unknown> = {}) =>
  deployManifest({
    model: 'faces',
    variant: 'slim',
    version: 1,
    url: `${server.base}/faces.onnx`,
    manifest: { ...ultrafaceModelManifest(), description: 'faces, deployed', labels: ['background', 'face'] },
    ...over,
  });
const sign = signManifest;

describe('deploying a new model (a model manifest in the deployment)', () => {
  it('installed under deployed-models, known to the catalog (now and after a restart), switched to, committed', async () => {
    const d = await device();
    const update = await d.deployer.start(sign(newModel())).done;
    expect(update).toMatchObject({ state: 'committed', model: 'faces', installedVersion: 1 });
    expect(d.active()).toEqual({ model: 'faces', variant: 'slim-v1' });
    const folder = path.join(d.dataDir, 'deployed-models/faces');
    expect(readdirSync(folder).sort()).toEqual(['labels.txt', 'manifest.json', 'slim-v1.onnx']);
    expect(readFileSync(path.join(folder, 'labels.txt'), 'utf8')).toBe('background\nface\n');
    // A fresh catalog (the agent restarted) has it, with the carried manifest's decoder and input.
    const fresh = await loadCatalog({ modelsDir: MODELS, dataDir: d.dataDir });
    const { model, variant } = fresh.variant('faces');
    expect(variant).toMatchObject({ id: 'slim-v1', sha256: SHA, derived: false });
    expect(model.manifest).toMatchObject({
      task: 'detection',
      decoder: { type: 'ultraface' },
      defaultVariant: 'slim-v1',
    });
    // A next version of the new model is a variant like any other (the manifest, same model, is accepted).
    const v2 = await d.deployer.start(sign(newModel({ version: 2 }))).done;
    expect(v2).toMatchObject({ state: 'committed', installedVersion: 2 });
    expect(d.active()).toEqual({ model: 'faces', variant: 'slim-v2' });
    expect(d.store.versions('faces').map((v) => [v.version, v.status])).toEqual([
      [2, 'active'],
      [1, 'previous'],
    ]);
  }, 120_000);

  it('a new model rolled back in its health window is removed whole; the same deployment sent again installs it anew', async () => {
    const d = await device();
    d.failNextWindow(2);
    const first = await d.deployer.start(sign(newModel())).done;
    expect(first).toMatchObject({ state: 'rolled-back', installedVersion: 0 });
    expect(first.error).toMatch(/health: 2 inference error/);
    expect(d.active()).toEqual({ model: 'ultraface', variant: 'slim-320' });
    // Refused: gone from the catalog and the disk (no tune, set-model or restart can choose it).
    expect(d.catalog().names()).not.toContain('faces');
    expect(readdirSync(path.join(d.dataDir, 'deployed-models'))).toEqual([]);
    expect((await loadCatalog({ modelsDir: MODELS, dataDir: d.dataDir })).names()).not.toContain('faces');
    d.failNextWindow(0);
    const again = await d.deployer.start(sign(newModel())).done;
    expect(again).toMatchObject({ state: 'committed', installedVersion: 1 });
    expect(d.active()).toEqual({ model: 'faces', variant: 'slim-v1' });
  }, 120_000);

  it('a model the device does not know and no manifest: failed at install, the previous model still serving', async () => {
    const { manifest: _m, ...bare } = newModel();
    const d = await device();
    const update = await d.deployer.start(sign(bare)).done;
    expect(update.state).toBe('failed');
    expect(update.error).toMatch(/not in the catalog; a new model's deployment must carry its "manifest"/);
    expect(d.active()).toEqual({ model: 'ultraface', variant: 'slim-320' });
  }, 60_000);

  it('a manifest for a known model that changes its decoder is refused (a changed model needs a new name)', async () => {
    const d = await device();
    const m = newModel({ model: 'ultraface', version: 5 });
    (m.manifest as { decoder: { scoreThreshold: number } }).decoder.scoreThreshold = 0.1;
    const update = await d.deployer.start(sign(m)).done;
    expect(update.error).toMatch(/install: model "ultraface" exists with another decoder/);
    expect(d.active().variant).toBe('slim-320');
  }, 60_000);

  it('a manifest the catalogue schema refuses, and names that would leave the folder, are refused before anything is written', async () => {
    const bad = newModel();
    (bad.manifest as Record<string, unknown>).task = 'segmentation';
    expect(deploySchemas().deployManifestSchema.safeParse(bad).success).toBe(false);
    const d = await device();
    expect(() => d.deployer.start(sign(bad))).toThrow(/verify: .*task/);
    expect(() => d.deployer.start(sign(newModel({ model: '..' })))).toThrow(
      /verify: .*must not start with "."/,
    );
    // The installer checks on its own too (defence in depth): nothing is written outside its folder.
    const root = path.join(d.dataDir, 'deployed-models');
    const parsed = deploySchemas().deployManifestSchema.parse(newModel());
    for (const model of ['..', '../etc', '.hidden'])
      await expect(
        installNewModel(
          root,
          { ...parsed, model, manifest: parsed.manifest! },
          'slim-v1',
          path.join(MODELS, 'ultraface/ultraface_version-slim-320.onnx'),
        ),
      ).rejects.toThrow(/does not name a folder inside/);
    expect(existsSync(path.join(d.dataDir, 'slim-v1.onnx'))).toBe(false);
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
  }, 60_000);

  it('a new model whose manifest input does not fit the file fails validation on the frame', async () => {
    const m = newModel();
    (m.manifest as { input: { name: string } }).input.name = 'pixels';
    const d = await device();
    const update = await d.deployer.start(sign(m)).done;
    expect(update.state).toBe('failed');
    expect(update.error).toMatch(/validate: .*input "pixels" is not an input of the model/);
    expect(existsSync(path.join(d.dataDir, 'deployed-models/faces'))).toBe(false);
  }, 60_000);
});
