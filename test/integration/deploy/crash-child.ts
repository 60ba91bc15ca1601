/**
 * A device in a real process for the crash tests (crash.test.ts): the real Deployer, DeployStore
 * (SQLite file), catalog installer and catalog, with the active model kept in `active.json` (the
 * config file's role: written atomically on commit, read at start). On start it reports which
 * model is active and whether it loads in onnxruntime, then resumes an unfinished deployment or
 * starts the one in argv[3]. `EDGE_AGENT_TEST_CRASH_AT` makes it SIGKILL itself at that point.
 *
 *   node --import tsx crash-child.ts DATA_DIR PUBLIC_KEY_BASE64 [SIGNED_MANIFEST_FILE]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { catalogInstaller, removeInstalledVariant } from '../../../src/features/deploy.js';
import { testCrashHook } from '../../../src/fleet/deploy/crash-points.js';
import { Deployer } from '../../../src/fleet/deploy/deployer.js';
import { DeployStore } from '../../../src/fleet/deploy/state.js';
import { silentLogger } from '../../../src/log.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import { atomicWrite } from '../../../src/models/derived-store.js';
import { sha256Hex } from '../../../src/models/integrity.js';
import { openDatabase } from '../../../src/store/database.js';
import { trustSchemas } from '../../../src/trust/config.js';
import { buildKeyRing } from '../../../src/trust/envelope.js';
import type { SignedDocument } from '../../../src/trust/keys.js';

const [dataDir, publicKey, manifestFile] = process.argv.slice(2) as [string, string, string | undefined];
const modelsDir = path.resolve(import.meta.dirname, '../../../models');
const activeFile = path.join(dataDir, 'active.json');
const say = (o: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(o)}\n`);

const db = openDatabase({ file: path.join(dataDir, 'edge-agent.db') });
let catalog: Catalog = await loadCatalog({ modelsDir, dataDir });
const reloadCatalog = async () => {
  catalog = await loadCatalog({ modelsDir, dataDir });
};
let active: { model: string; variant: string } = existsSync(activeFile)
  ? JSON.parse(readFileSync(activeFile, 'utf8'))
  : { model: 'ultraface', variant: 'slim-320' };

/** What the agent does at start: the configured variant, its file's checksum, an onnxruntime session. */
async function loads(a: { model: string; variant: string }): Promise<boolean> {
  const { variant } = catalog.variant(a.model, a.variant);
  if (sha256Hex(readFileSync(variant.path)) !== variant.sha256) return false;
  const session = await ort.InferenceSession.create(variant.path);
  await session.release();
  return true;
}
say({ event: 'started', active, loads: await loads(active) });

let processed = 0;
const crash = testCrashHook(process.env);
const deployer = new Deployer({
  deviceId: 'cam-1',
  dataDir,
  keys: buildKeyRing(trustSchemas().trustSchema.parse({ keys: [{ name: 'ops', key: publicKey }] })).keys,
  clockSkewMs: 60_000,
  store: new DeployStore(db),
  clock: { now: () => Date.now(), sleep: async () => undefined },
  log: silentLogger(),
  limits: {
    idleTimeoutMs: 5000,
    deadlineMs: 60_000,
    validateTimeoutMs: 60_000,
    validateHeapMB: 256,
    healthWindowMs: 100,
    latencyFactor: 1.5,
    minInferences: 1,
  },
  host: {
    install: catalogInstaller({ catalog: () => catalog, reloadCatalog, ...(crash ? { crash } : {}) }),
    active: () => active,
    remove: async (model, variantId) => {
      await removeInstalledVariant(path.join(dataDir, 'models'), model, variantId);
      await reloadCatalog();
    },
    switchTo: async (model, variant) => {
      catalog.variant(model, variant);
      active = { model, variant };
    },
    persist: async (model, variant) => {
      await atomicWrite(activeFile, Buffer.from(JSON.stringify({ model, variant })));
    },
    // The pipeline's counters: a healthy model (the health rules are tested in deployer.test.ts).
    health: () => {
      processed += 10;
      return { processed, failed: 0, latencyP95Ms: 10 };
    },
  },
  progress: (d) => say({ event: 'progress', ...d }),
  ...(crash ? { crash } : {}),
});

const resumed = deployer.recover();
const done =
  resumed ??
  (manifestFile
    ? deployer.start(JSON.parse(readFileSync(manifestFile, 'utf8')) as SignedDocument).done
    : undefined);
say({ event: 'done', update: done ? await done : deployer.update(), active });
db.close();
