import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { readProfile } from '../../../src/hardware/profile.js';
import type { DeviceProfile } from '../../../src/hardware/schema.js';
import { silentLogger } from '../../../src/log.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { sha256Hex } from '../../../src/models/integrity.js';
import { Store } from '../../../src/store/index.js';
import { Tuner, type TunerDeps } from '../../../src/tuner/tuner.js';
import { FIXTURES, MODELS } from '../../helpers/paths.js';

/** A profile of a fixture board with CPU as the only provider (no probing in the test process). */
export function fixtureProfile(board = 'x86-container'): Promise<DeviceProfile> {
  return readProfile({
    root: path.join(FIXTURES, 'hardware', board),
    probeExecutionProviders: async () => ({ available: ['cpu'], rejected: [], onnxruntimeVersion: '1.30.0' }),
  });
}

/**
 * A models folder with squeezenet1.1 (fp32 + fp16) and, when asked, a variant whose file is not
 * an ONNX model (its sha256 matches, so only onnxruntime refuses it).
 */
export function squeezenetModels(options: { broken?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tuner-models-'));
  const src = path.join(MODELS, 'squeezenet1.1');
  const dst = path.join(dir, 'squeezenet1.1');
  mkdirSync(dst);
  for (const f of ['labels.txt', 'squeezenet1.1.onnx', 'squeezenet1.1_fp16.onnx'])
    copyFileSync(path.join(src, f), path.join(dst, f));
  const manifest = JSON.parse(readFileSync(path.join(src, 'manifest.json'), 'utf8'));
  delete manifest.$schema;
  if (options.broken) {
    const junk = Buffer.from('this is not an ONNX model, it is a deliberately broken file'.repeat(20));
    writeFileSync(path.join(dst, 'broken.onnx'), junk);
    manifest.variants.push({
      id: 'broken',
      file: 'broken.onnx',
      sha256: sha256Hex(junk),
      bytes: junk.length,
      precision: 'fp32',
      origin: { kind: 'shipped' },
      reference: 'fp32',
      quality: { fidelity: 1 },
    });
  }
  writeFileSync(path.join(dst, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

export interface TunerRig {
  tuner: Tuner;
  store: Store;
  dataDir: string;
  modelsDir: string;
  close(): Promise<void>;
}

/** A tuner over a models folder with a real SQLite store in a temp data dir. */
export async function tunerRig(
  modelsDir: string,
  options: {
    dataDir?: string;
    policy?: Record<string, unknown>;
    profile?: DeviceProfile;
    deps?: Partial<TunerDeps>;
  } = {},
): Promise<TunerRig> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'tuner-data-'));
  const config = parseConfig({
    policy: {
      tuning: { rounds: 2, runsPerRound: 4, warmupRuns: 1, maxThreads: 2, fidelityFrames: 4 },
      ...options.policy,
    },
  });
  const store = new Store({
    file: path.join(dataDir, 'edge-agent.db'),
    config: config.store,
    clock: systemClock,
    log: silentLogger(),
  });
  let catalog = await loadCatalog({ modelsDir, dataDir });
  const profile = options.profile ?? (await fixtureProfile());
  const tuner = new Tuner({
    catalog: () => catalog,
    reloadCatalog: async () => {
      catalog = await loadCatalog({ modelsDir, dataDir });
      return catalog;
    },
    profile,
    policy: config.policy,
    modelsDir,
    dataDir,
    benchmarks: store.benchmarks,
    decisions: store.decisions,
    clock: systemClock,
    ...options.deps,
  });
  return { tuner, store, dataDir, modelsDir, close: () => store.stop() };
}
