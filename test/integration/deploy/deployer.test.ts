import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployFeature, removeInstalledVariant } from '../../../src/features/deploy.js';
import type { HealthSample } from '../../../src/fleet/deploy/health.js';
import type { DeployManifest } from '../../../src/fleet/deploy/manifest.js';
import {
  deployDevice,
  deployManifest,
  MODEL,
  modelServer,
  rangeStart,
  SHA,
  sendModel,
  signManifest,
} from './support.js';

let server: Awaited<ReturnType<typeof modelServer>>;
const ranges: Array<string | undefined> = [];
beforeAll(async () => {
  server = await modelServer({
    '/m.onnx': (req, res) => {
      ranges.push(req.headers.range);
      sendModel(res, { from: rangeStart(req) });
    },
  });
});
afterAll(() => server.close());

/** The health window's samples are scripted (the device's clock ends its sleeps at once). */
async function device(health: { during?: Partial<HealthSample> } = {}) {
  const switches: string[] = [];
  let samples = 0;
  let switchTo: (model: string, variant: string) => Promise<void> = async () => undefined;
  const d = await deployDevice({
    limits: { healthWindowMs: 1000, minInferences: 5, keepVersions: 2 },
    host: (dev) => {
      switchTo = async (model, variant) => {
        dev.catalog().variant(model, variant); // throws for an unknown variant, as the model host does
        switches.push(variant);
        dev.setActive({ model, variant });
      };
      return {
        remove: async (model, variantId) => {
          await removeInstalledVariant(path.join(dev.dataDir, 'models'), model, variantId);
          await dev.reloadCatalog();
        },
        switchTo,
        health: () => {
          samples += 1;
          // Samples: baseline (before the switch), window start, window end.
          if (samples >= 3 && health.during)
            return { processed: 40, failed: 0, latencyP95Ms: 10, ...health.during };
          return { processed: samples === 3 ? 40 : 0, failed: 0, latencyP95Ms: 10 };
        },
      };
    },
  });
  return { ...d, switchTo, switches };
}

const manifest = (over: Partial<DeployManifest> = {}) =>
  deployManifest({ url: `${server.base}/m.onnx`, ...over });
const sign = signManifest;

describe('Deployer', () => {
  it('happy path: download → validate → install → switch → health → committed', async () => {
    const d = await device();
    const { done } = d.deployer.start(sign(manifest()));
    const update = await done;
    expect(update).toMatchObject({ state: 'committed', installedVersion: 2, latestVersion: 2, progress: 1 });
    expect(d.active()).toEqual({ model: 'ultraface', variant: 'slim-v2' });
    expect(d.catalog().variant('ultraface', 'slim-v2').variant.sha256).toBe(SHA);
    expect(d.events.map((e) => e.state)).toEqual(
      expect.arrayContaining(['downloading', 'validating', 'installing', 'health', 'committed']),
    );
    expect(d.store.versions()).toMatchObject([{ version: 2, status: 'active', variantId: 'slim-v2' }]);
    // No partial file left; the same version again is refused (anti-rollback).
    expect(readdirSync(path.join(d.dataDir, 'deploy'))).toEqual([]);
    expect(() => d.deployer.start(sign(manifest()))).toThrow(/already installed/);
    expect((d.db.pragma('integrity_check') as Array<{ integrity_check: string }>)[0]!.integrity_check).toBe(
      'ok',
    );
  });

  it('versions beyond trust.deploy.keepVersions are pruned (file and catalog entry), never active nor previous', async () => {
    const d = await device({ during: {} });
    for (const version of [2, 3, 4]) {
      const update = await d.deployer.start(sign(manifest({ version }))).done;
      expect(update.state).toBe('committed');
    }
    expect(d.store.versions().map((v) => [v.version, v.status])).toEqual([
      [4, 'active'],
      [3, 'previous'],
    ]);
    expect(existsSync(path.join(d.dataDir, 'models/ultraface/slim-v2.onnx'))).toBe(false);
    expect(existsSync(path.join(d.dataDir, 'models/ultraface/slim-v3.onnx'))).toBe(true);
    expect(() => d.catalog().variant('ultraface', 'slim-v2')).toThrow();

    // rollback-model: back to v3; v4 is marked rolled back (a later v4 manifest is accepted again).
    const feature = deployFeature({
      deployer: d.deployer,
      store: d.store,
      switchTo: d.switchTo,
      active: d.active,
    });
    const ctx = {
      scope: { kind: 'device' as const },
      transaction: undefined,
      progress: () => undefined,
      afterResponse: () => undefined,
    };
    expect(await feature.commands!['rollback-model']!.run({ model: 'ultraface' }, ctx)).toEqual({
      from: 'slim-v4',
      to: 'slim-v3',
    });
    expect(d.active().variant).toBe('slim-v3');
    expect(d.store.versions().map((v) => [v.version, v.status])).toEqual([
      [4, 'rolled-back'],
      [3, 'active'],
    ]);
    await expect(feature.commands!['rollback-model']!.run({ model: 'ultraface' }, ctx)).rejects.toThrow(
      /no previous/,
    );
  });

  it('wrong output shapes: failed at validation, nothing installed, the previous model still serving', async () => {
    const d = await device();
    const update = await d.deployer.start(
      sign(manifest({ outputs: [{ name: 'scores', shape: [1, 100, 2] }] })),
    ).done;
    expect(update).toMatchObject({ state: 'failed', installedVersion: 0 });
    expect(update.error).toMatch(/validate: output "scores" has shape/);
    expect(d.switches).toEqual([]);
    expect(d.active().variant).toBe('slim-320');
    expect(existsSync(path.join(d.dataDir, 'models/ultraface/slim-v2.onnx'))).toBe(false);
  });

  it('sha256 mismatch: failed, no partial file', async () => {
    const d = await device();
    const update = await d.deployer.start(sign(manifest({ sha256: 'a'.repeat(64) }))).done;
    expect(update.error).toMatch(/checksum: sha256 mismatch/);
    expect(readdirSync(path.join(d.dataDir, 'deploy'))).toEqual([]);
    expect(d.active().variant).toBe('slim-320');
  });

  it('inference errors in the health window: rolled back automatically with the reason', async () => {
    const d = await device({ during: { failed: 3 } });
    const update = await d.deployer.start(sign(manifest())).done;
    expect(update).toMatchObject({ state: 'rolled-back', installedVersion: 0 });
    expect(update.error).toMatch(/health: 3 inference error/);
    expect(d.switches).toEqual(['slim-v2', 'slim-320']);
    expect(d.active().variant).toBe('slim-320');
  });

  it('a model too slow in the health window: rolled back', async () => {
    const d = await device({ during: { latencyP95Ms: 100 } });
    const update = await d.deployer.start(sign(manifest())).done;
    expect(update.state).toBe('rolled-back');
    expect(update.error).toMatch(/p95 latency 100.0 ms exceeds 15.0 ms/);
  });

  it('one deployment at a time; a bad signature is refused before anything starts', async () => {
    const d = await device();
    const first = d.deployer.start(sign(manifest()));
    expect(() => d.deployer.start(sign(manifest({ version: 3 })))).toThrow(/one at a time/);
    await first.done;
    const forged = { ...sign(manifest({ version: 3 })), payload: JSON.stringify(manifest({ version: 4 })) };
    expect(() => d.deployer.start(forged)).toThrow(/verify: bad signature/);
  });

  it('a job recorded without its signature (by an older agent) is reported interrupted, not resumed', async () => {
    const d = await device();
    d.db
      .prepare(
        `INSERT INTO deploy_jobs (model, variant, version, manifest, state, started_at, updated_at)
         VALUES ('ultraface', 'slim', 5, '{}', 'downloading', 1, 1)`,
      )
      .run();
    expect(d.deployer.recover()).toBeUndefined();
    expect(d.deployer.update()).toMatchObject({ state: 'interrupted', latestVersion: 5 });
    expect(d.deployer.update().error).toMatch(/no stored signature .*send the manifest again/);
  });

  it('a restart removes the download file of a committed version (killed between the commit and its removal)', async () => {
    const d = await device();
    await d.deployer.start(sign(manifest())).done;
    const part = path.join(d.dataDir, 'deploy/ultraface-slim-v2.part');
    writeFileSync(part, MODEL);
    const retryable = path.join(d.dataDir, 'deploy/ultraface-slim-v3.part'); // a failed download's, kept for a resend
    writeFileSync(retryable, MODEL.subarray(0, 10));
    expect(d.deployer.recover()).toBeUndefined();
    expect(existsSync(part)).toBe(false);
    expect(existsSync(retryable)).toBe(true);
  });

  it('an unfinished job whose stored manifest has expired since is not resumed; its partial file is removed', async () => {
    const d = await device();
    const doc = sign(manifest({ expires: new Date(Date.now() - 3600_000).toISOString() }));
    const id = d.store.begin({ model: 'ultraface', variant: 'slim', version: 2 }, doc, Date.now());
    d.store.update(id, 'downloading', Date.now());
    const part = path.join(d.dataDir, 'deploy/ultraface-slim-v2.part');
    mkdirSync(path.dirname(part), { recursive: true });
    writeFileSync(part, MODEL.subarray(0, 1000));
    expect(d.deployer.recover()).toBeUndefined();
    expect(d.deployer.update()).toMatchObject({ state: 'interrupted', installedVersion: 0 });
    expect(d.deployer.update().error).toMatch(/cannot resume: manifest expired/);
    expect(existsSync(part)).toBe(false);
    expect(d.active().variant).toBe('slim-320');
  });

  it('an unfinished download resumes after a restart from the stored manifest, with a Range request', async () => {
    const d = await device();
    const doc = sign(manifest());
    const id = d.store.begin({ model: 'ultraface', variant: 'slim', version: 2 }, doc, Date.now());
    d.store.update(id, 'downloading', Date.now(), { progress: 0.5 });
    const part = path.join(d.dataDir, 'deploy/ultraface-slim-v2.part');
    mkdirSync(path.dirname(part), { recursive: true });
    writeFileSync(part, MODEL.subarray(0, 4096));
    const before = ranges.length;
    const update = await d.deployer.recover();
    expect(update).toMatchObject({ state: 'committed', installedVersion: 2 });
    expect(ranges.slice(before)).toEqual(['bytes=4096-']);
    expect(d.events[0]).toMatchObject({ state: 'resuming', from: 'downloading', phase: 'download' });
    expect(d.active().variant).toBe('slim-v2');
  });
});
