import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillDisk, mountTmpfs } from '../../helpers/tmpfs.js';
import { deployDevice, modelServer, sendModel, signedManifest } from './support.js';

/**
 * Disk full, on a real small tmpfs as the data directory (downloads and installed models; the
 * database beside it): the deployment is refused with the previous model still serving, no
 * partial file at the active path, and a clear event. Needs root to mount (skipped otherwise,
 * failing in CI like the store's disk-full test).
 */
const root = mkdtempSync(path.join(tmpdir(), 'ea-deploy-full-'));
const mounts: Array<{ unmount(): void }> = [];
const tmpfs = (name: string, size: string) => {
  const m = mountTmpfs(path.join(root, name), size);
  if (m) mounts.push(m);
  return m;
};
const small = tmpfs('small', '8m');
const roomy = tmpfs('roomy', '24m');
const roomy2 = tmpfs('roomy2', '24m');

let fillOnRequest: string | undefined;
let server: Awaited<ReturnType<typeof modelServer>>;
beforeAll(async () => {
  server = await modelServer({
    '/m.onnx': (_req, res) => {
      // The disk fills up while the device downloads (another writer on the same partition).
      if (fillOnRequest) fillDisk(fillOnRequest);
      fillOnRequest = undefined;
      sendModel(res);
    },
  });
});
afterAll(async () => {
  await server?.close();
  for (const m of mounts) m.unmount();
  rmSync(root, { recursive: true, force: true });
});

function expectOldServing(d: Awaited<ReturnType<typeof deployDevice>>) {
  expect(d.active()).toEqual({ model: 'ultraface', variant: 'slim-320' });
  expect(existsSync(path.join(d.installDir, 'slim-v2.onnx'))).toBe(false);
  expect(
    (existsSync(d.installDir) ? readdirSync(d.installDir) : []).filter((f) => f.endsWith('.tmp')),
  ).toEqual([]);
  expect(() => d.catalog().variant('ultraface', 'slim-v2')).toThrow();
}

describe.skipIf(!small || !roomy || !roomy2)('deployment on a full disk (tmpfs)', () => {
  it('not enough free space (8 MB tmpfs): refused at the space check, nothing downloaded', async () => {
    const d = await deployDevice({ dataDir: small!.dir, dbDir: mkdtempSync(path.join(root, 'db-')) });
    const update = await d.deployer.start(signedManifest({ url: `${server.base}/m.onnx` })).done;
    expect(update).toMatchObject({ state: 'failed', installedVersion: 0 });
    expect(update.error).toMatch(/^space: \d+ KiB needed \(\+16 MiB margin\), \d+ KiB free in /);
    expect(d.events.at(-1)).toEqual({ state: 'failed', error: update.error });
    expect(readdirSync(path.join(small!.dir, 'deploy'))).toEqual([]);
    expectOldServing(d);
  });

  it('the disk fills during the download: failed with ENOSPC, the partial file removed; with room again it commits', async () => {
    const d = await deployDevice({ dataDir: roomy!.dir, dbDir: mkdtempSync(path.join(root, 'db-')) });
    fillOnRequest = roomy!.dir;
    const update = await d.deployer.start(signedManifest({ url: `${server.base}/m.onnx` })).done;
    expect(update).toMatchObject({ state: 'failed', installedVersion: 0 });
    expect(update.error).toMatch(/download: cannot write: ENOSPC/);
    expect(d.events.at(-1)).toEqual({ state: 'failed', error: update.error });
    expect(readdirSync(path.join(roomy!.dir, 'deploy'))).toEqual([]);
    expectOldServing(d);

    rmSync(path.join(roomy!.dir, 'filler'));
    const again = await d.deployer.start(signedManifest({ url: `${server.base}/m.onnx` })).done;
    expect(again).toMatchObject({ state: 'committed', installedVersion: 2 });
    expect(d.active().variant).toBe('slim-v2');
  });

  it('the disk fills before the install: failed at install, no file or temp copy at the active path', async () => {
    const d = await deployDevice({ dataDir: roomy2!.dir, dbDir: mkdtempSync(path.join(root, 'db-')) });
    d.onProgress((e) => {
      if (e.state === 'installing') fillDisk(roomy2!.dir);
    });
    const update = await d.deployer.start(signedManifest({ url: `${server.base}/m.onnx` })).done;
    expect(update).toMatchObject({ state: 'failed', installedVersion: 0 });
    expect(update.error).toMatch(/ENOSPC/);
    expect(d.events.at(-1)).toEqual({ state: 'failed', error: update.error });
    expectOldServing(d);
    expect(readdirSync(path.join(roomy2!.dir, 'deploy'))).toEqual([]);
  });
});
