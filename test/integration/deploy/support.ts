import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { catalogInstaller } from '../../../src/features/deploy.js';
import { Deployer, type DeployerDeps, type DeployHost } from '../../../src/fleet/deploy/deployer.js';
import type { DeployManifest, NewModelManifest } from '../../../src/fleet/deploy/manifest.js';
import { DeployStore } from '../../../src/fleet/deploy/state.js';
import { silentLogger } from '../../../src/log.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import { openDatabase } from '../../../src/store/database.js';
import { trustSchemas } from '../../../src/trust/config.js';
import { buildKeyRing } from '../../../src/trust/envelope.js';
import { generateKeys, parsePrivateKey, signPayload } from '../../../src/trust/keys.js';
import { REPO } from '../../helpers/paths.js';

/**
 * The deploy tests' shared fixture: the model they ship, an operator key the device trusts, signed
 * manifests, a real HTTP server for the file, and a device around the real Deployer.
 */

/** The real model the deploy tests ship (UltraFace slim-320) and its sha256. */
export const MODEL = readFileSync(path.join(REPO, 'models/ultraface/ultraface_version-slim-320.onnx'));
export const SHA = createHash('sha256').update(MODEL).digest('hex');
const ops = generateKeys();
/** The operator's public key (base64) the device trusts, for a device in another process. */
export const TRUSTED_KEY = ops.publicBase64;
/** The device's key ring: the operator key as "ops". */
export const trustedKeys = buildKeyRing(
  trustSchemas().trustSchema.parse({ keys: [{ name: 'ops', key: TRUSTED_KEY }] }),
).keys;

/** UltraFace's model manifest without its name, labels and variants: what a new model's deployment carries. */
export function ultrafaceModelManifest(): Omit<NewModelManifest, 'labels'> {
  const {
    name: _n,
    labels: _l,
    defaultVariant: _d,
    variants: _v,
    $schema: _s,
    fidelityReference: _f,
    ...rest
  } = JSON.parse(readFileSync(path.join(REPO, 'models/ultraface/manifest.json'), 'utf8'));
  return rest;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * A real HTTP server with one handler per path (404 otherwise); `onRequest` sees every request
 * first. `close` ends it.
 */
export async function modelServer(
  handlers: Record<string, Handler>,
  options: { onRequest?: (req: http.IncomingMessage) => void } = {},
): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    options.onRequest?.(req);
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

/** The offset a `Range: bytes=N-` request asks for; undefined without one. */
export function rangeStart(req: http.IncomingMessage): number | undefined {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * Answers with `bytes` (default the model): whole (200), or from `from` on (206 with its
 * content-range). `only`: sends just that many bytes and leaves the answer open (the caller
 * stalls or destroys it).
 */
export function sendModel(
  res: http.ServerResponse,
  options: { from?: number | undefined; bytes?: Buffer; only?: number | undefined } = {},
): void {
  const bytes = options.bytes ?? MODEL;
  const from = options.from ?? 0;
  res.writeHead(options.from === undefined ? 200 : 206, {
    'content-length': bytes.length - from,
    ...(options.from === undefined
      ? {}
      : { 'content-range': `bytes ${from}-${bytes.length - 1}/${bytes.length}` }),
  });
  if (options.only === undefined) res.end(bytes.subarray(from));
  else res.write(bytes.subarray(from, from + options.only));
}

/** A deployment manifest (unsigned) of the model as ultraface/slim version 2 for device cam-1. */
export function deployManifest(over: Partial<DeployManifest> & { url: string }): Record<string, unknown> {
  return {
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
}

/** Signs any manifest (valid or not) with the trusted operator key. */
export function signManifest(m: object) {
  return signPayload('deploy-manifest', JSON.stringify(m), parsePrivateKey(ops.privatePem));
}

/** `deployManifest(over)`, signed with the trusted operator key. */
export function signedManifest(over: Partial<DeployManifest> & { url: string }) {
  return signManifest(deployManifest(over));
}

/** The device seen from a test's host functions: its catalogue and the variant it serves. */
export interface DeviceView {
  dataDir: string;
  catalog(): Catalog;
  reloadCatalog(): Promise<void>;
  active(): { model: string; variant: string };
  setActive(a: { model: string; variant: string }): void;
}

/**
 * A device around the real Deployer: its data directory (models installed under
 * `<dataDir>/models`, downloads under `<dataDir>/deploy`), a SQLite store (`dbDir`, default the
 * data directory), the real catalog installer, a clock whose sleeps end at once; by default the
 * pipeline's health is a healthy script. `limits` and `host` replace the defaults they name.
 */
export async function deployDevice(
  options: {
    dataDir?: string;
    dbDir?: string;
    idleTimeoutMs?: number;
    limits?: Partial<DeployerDeps['limits']>;
    host?: (device: DeviceView) => Partial<DeployHost>;
  } = {},
) {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'ea-deploy-dev-'));
  const db = openDatabase({ file: path.join(options.dbDir ?? dataDir, 'edge-agent.db') });
  const modelsDir = path.join(REPO, 'models');
  let catalog: Catalog = await loadCatalog({ modelsDir, dataDir });
  const reloadCatalog = async () => {
    catalog = await loadCatalog({ modelsDir, dataDir });
  };
  let active = { model: 'ultraface', variant: 'slim-320' };
  const view: DeviceView = {
    dataDir,
    catalog: () => catalog,
    reloadCatalog,
    active: () => active,
    setActive: (a) => {
      active = a;
    },
  };
  let processed = 0;
  const events: Array<Record<string, unknown>> = [];
  const listeners: Array<(e: Record<string, unknown>) => void> = [];
  const store = new DeployStore(db);
  const deployer = new Deployer({
    deviceId: 'cam-1',
    dataDir,
    keys: trustedKeys,
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
      ...options.limits,
    },
    host: {
      install: catalogInstaller({ catalog: () => catalog, reloadCatalog }),
      active: () => active,
      switchTo: async (model, variant) => {
        catalog.variant(model, variant); // throws for an unknown model or variant, as the model host does
        active = { model, variant };
      },
      health: () => {
        processed += 10;
        return { processed, failed: 0, latencyP95Ms: 10 };
      },
      ...options.host?.(view),
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
