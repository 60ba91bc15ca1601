import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/clock.js';
import { catalogInstaller, catalogRemover } from '../../../src/features/deploy.js';
import { Deployer } from '../../../src/fleet/deploy/deployer.js';
import { installNewModel } from '../../../src/fleet/deploy/install-model.js';
import { deployManifestSchema } from '../../../src/fleet/deploy/manifest.js';
import { DeployStore } from '../../../src/fleet/deploy/state.js';
import { silentLogger } from '../../../src/log.js';
import { type Catalog, loadCatalog, readLabels } from '../../../src/models/catalog.js';
import { effectiveInputSpec } from '../../../src/models/manifest.js';
import { openDatabase } from '../../../src/store/database.js';
import { trustSchema } from '../../../src/trust/config.js';
import { buildKeyRing } from '../../../src/trust/envelope.js';
import { generateKeys, parsePrivateKey, signPayload } from '../../../src/trust/keys.js';
import { REPO } from '../../helpers/paths.js';

const MODELS = path.join(REPO, 'models');
const MODEL = readFileSync(path.join(MODELS, 'ultraface/ultraface_version-slim-320.onnx'));
const SHA = createHash('sha256').update(MODEL).digest('hex');
const ULTRAFACE = JSON.parse(readFileSync(path.join(MODELS, 'ultraface/manifest.json'), 'utf8'));
const ops = generateKeys();
const keys = buildKeyRing(trustSchema.parse({ keys: [{ name: 'ops', key: ops.publicBase64 }] })).keys;

let server: http.Server;
let base: string;
beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url !== '/faces.onnx') return res.writeHead(404).end();
    res.writeHead(200, { 'content-length': MODEL.length });
    res.end(MODEL);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const instantClock: Clock = { now: () => Date.now(), sleep: async () => undefined };

/** A device whose catalog, installer and model views are the real ones; the pipeline is a counter. */
async function device() {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ea-new-model-'));
  let catalog: Catalog = await loadCatalog({ modelsDir: MODELS, dataDir });
  const reloadCatalog = async () => {
    catalog = await loadCatalog({ modelsDir: MODELS, dataDir });
  };
  let active = { model: 'ultraface', variant: 'slim-320' };
  /** Inference errors the next health window will see (a scripted pipeline counter). */
  let errors = 0;
  let failedTotal = 0;
  const store = new DeployStore(openDatabase({ file: path.join(dataDir, 'edge-agent.db') }));
  const events: Array<Record<string, unknown>> = [];
  const deployer = new Deployer({
    deviceId: 'cam-1',
    dataDir,
    keys,
    clockSkewMs: 60_000,
    store,
    clock: instantClock,
    log: silentLogger(),
    limits: {
      idleTimeoutMs: 2000,
      deadlineMs: 20_000,
      validateTimeoutMs: 60_000,
      validateHeapMB: 256,
      validateMemoryMB: 512,
      healthWindowMs: 1000,
      latencyFactor: 1.5,
      minInferences: 5,
    },
    host: {
      install: catalogInstaller({ catalog: () => catalog, reloadCatalog }),
      remove: catalogRemover({ catalog: () => catalog, reloadCatalog, active: () => active }),
      active: () => active,
      switchTo: async (model, variant) => {
        catalog.variant(model, variant); // throws for an unknown model or variant, as the model host does
        active = { model, variant };
      },
      // A failure counter that grows by `errors` at each reading (a window sees the growth).
      health: () => {
        failedTotal += errors;
        return { processed: 0, failed: failedTotal, latencyP95Ms: undefined };
      },
      checks: {
        describe: async (model, variant) => {
          const entry = catalog.models().find((m) => m.manifest.name === model);
          const v = entry?.variants.find((x) => x.id === variant);
          if (!entry) return undefined;
          return {
            task: entry.manifest.task,
            input: effectiveInputSpec(entry.manifest.input, v ?? {}),
            decoder: entry.manifest.decoder,
            labels: await readLabels(entry),
            ...(v ? { file: v.path } : {}),
          };
        },
      },
    },
    progress: (d) => events.push(d),
  });
  return {
    dataDir,
    deployer,
    store,
    events,
    active: () => active,
    catalog: () => catalog,
    failNextWindow: (n: number) => {
      errors = n;
    },
  };
}

/** The bundled UltraFace file shipped as a model the device has never seen ("faces"). */
const newModel = (over: Record<string, unknown> = {}) => {
  const {
    name: _n,
    labels: _l,
    defaultVariant: _d,
    variants: _v,
    $schema: _s,
    fidelityReference: _f,
    ...rest
  } = ULTRAFACE;
  return {
    model: 'faces',
    variant: 'slim',
    version: 1,
    url: `${base}/faces.onnx`,
    sha256: SHA,
    bytes: MODEL.length,
    target: 'cam-1',
    expires: new Date(Date.now() + 3600_000).toISOString(),
    outputs: [
      { name: 'scores', shape: [1, null, 2] },
      { name: 'boxes', shape: [1, null, 4] },
    ],
    manifest: { ...rest, description: 'faces, deployed', labels: ['background', 'face'] },
    ...over,
  };
};
const sign = (m: object) =>
  signPayload('deploy-manifest', JSON.stringify(m), parsePrivateKey(ops.privatePem));

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
    expect(deployManifestSchema.safeParse(bad).success).toBe(false);
    const d = await device();
    expect(() => d.deployer.start(sign(bad))).toThrow(/verify: .*task/);
    expect(() => d.deployer.start(sign(newModel({ model: '..' })))).toThrow(
      /verify: .*must not start with "."/,
    );
    // The installer checks on its own too (defence in depth): nothing is written outside its folder.
    const root = path.join(d.dataDir, 'deployed-models');
    const parsed = deployManifestSchema.parse(newModel());
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
