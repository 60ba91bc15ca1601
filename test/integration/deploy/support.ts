import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { catalogInstaller } from '../../../src/features/deploy.js';
import { Deployer } from '../../../src/fleet/deploy/deployer.js';
import type { DeployManifest } from '../../../src/fleet/deploy/manifest.js';
import { DeployStore } from '../../../src/fleet/deploy/state.js';
import { silentLogger } from '../../../src/log.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import { openDatabase } from '../../../src/store/database.js';
import { trustSchema } from '../../../src/trust/config.js';
import { buildKeyRing } from '../../../src/trust/envelope.js';
import { generateKeys, parsePrivateKey, signPayload } from '../../../src/trust/keys.js';
import { REPO } from '../../helpers/paths.js';

/** The real model the deploy tests ship, its sha256, and an operator key trusted by the device. */
export const MODEL = readFileSync(path.join(REPO, 'models/ultraface/ultraface_version-slim-320.onnx'));
export const SHA = createHash('sha256').update(MODEL).digest('hex');
const ops = generateKeys();

/** A real HTTP server with one handler per path; `close` ends it. */
export async function modelServer(
  handlers: Record<string, (req: http.IncomingMessage, res: http.ServerResponse) => void>,
): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const handler = handlers[req.url ?? ''];
    if (handler) return handler(req, res);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

export function signedManifest(over: Partial<DeployManifest> & { url: string }) {
  const m = {
    model: 'ultraface',
    variant: 'slim',
    version: 2,
    sha256: SHA,
    bytes: MODEL.length,
    target: 'cam-1',
    expires: new Date(Date.now() + 3600_000).toISOString(),
    outputs: [
      { name: 'scores', shape: [1, null, 2] },
      { name: 'boxes', shape: [1, null, 4] },
    ],
    ...over,
  };
  return signPayload('deploy-manifest', JSON.stringify(m), parsePrivateKey(ops.privatePem));
}

/**
 * A device around the real Deployer: its data directory (models installed under
 * `<dataDir>/models`, downloads under `<dataDir>/deploy`), a SQLite store (`dbDir`, default the
 * data directory), the real catalog installer; the pipeline's health is a healthy script.
 */
export async function deployDevice(
  options: { dataDir?: string; dbDir?: string; idleTimeoutMs?: number } = {},
) {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'ea-deploy-dev-'));
  const db = openDatabase({ file: path.join(options.dbDir ?? dataDir, 'edge-agent.db') });
  const modelsDir = path.join(REPO, 'models');
  let catalog: Catalog = await loadCatalog({ modelsDir, dataDir });
  const reloadCatalog = async () => {
    catalog = await loadCatalog({ modelsDir, dataDir });
  };
  let active = { model: 'ultraface', variant: 'slim-320' };
  let processed = 0;
  const events: Array<Record<string, unknown>> = [];
  const listeners: Array<(e: Record<string, unknown>) => void> = [];
  const store = new DeployStore(db);
  const deployer = new Deployer({
    deviceId: 'cam-1',
    dataDir,
    keys: buildKeyRing(trustSchema.parse({ keys: [{ name: 'ops', key: ops.publicBase64 }] })).keys,
    clockSkewMs: 60_000,
    store,
    clock: { now: () => Date.now(), sleep: async () => undefined },
    log: silentLogger(),
    limits: {
      idleTimeoutMs: options.idleTimeoutMs ?? 2000,
      deadlineMs: 20_000,
      validateTimeoutMs: 60_000,
      validateHeapMB: 256,
      healthWindowMs: 100,
      latencyFactor: 1.5,
      minInferences: 1,
    },
    host: {
      install: catalogInstaller({ catalog: () => catalog, reloadCatalog }),
      active: () => active,
      switchTo: async (model, variant) => {
        catalog.variant(model, variant);
        active = { model, variant };
      },
      health: () => {
        processed += 10;
        return { processed, failed: 0, latencyP95Ms: 10 };
      },
    },
    progress: (d) => {
      events.push(d);
      for (const l of listeners) l(d);
    },
  });
  return {
    dataDir,
    db,
    store,
    deployer,
    events,
    /** Runs `fn` on every progress event (synchronously, before the step it announces). */
    onProgress: (fn: (e: Record<string, unknown>) => void) => listeners.push(fn),
    active: () => active,
    catalog: () => catalog,
    installDir: path.join(dataDir, 'models/ultraface'),
  };
}
