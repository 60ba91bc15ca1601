import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { readProfile } from '../../../src/hardware/profile.js';
import type { DeviceProfile } from '../../../src/hardware/schema.js';
import { silentLogger } from '../../../src/log.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import { sha256Hex } from '../../../src/models/integrity.js';
import { DataType, encodeModel, proto } from '../../../src/optimize/onnx/onnx-io.js';
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
export function squeezenetModels(options: { broken?: boolean; fp16?: boolean } = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tuner-models-'));
  const src = path.join(MODELS, 'squeezenet1.1');
  const dst = path.join(dir, 'squeezenet1.1');
  mkdirSync(dst);
  for (const f of ['labels.txt', 'squeezenet1.1.onnx', 'squeezenet1.1_fp16.onnx'])
    copyFileSync(path.join(src, f), path.join(dst, f));
  const manifest = JSON.parse(readFileSync(path.join(src, 'manifest.json'), 'utf8'));
  delete manifest.$schema;
  if (options.fp16 === false)
    manifest.variants = manifest.variants.filter((v: { id: string }) => v.id !== 'fp16');
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
  /** Reloads the catalogue from the folders (a variant was added, as a derivation does). */
  reload(): Promise<Catalog>;
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
  const reload = async () => {
    catalog = await loadCatalog({ modelsDir, dataDir });
    return catalog;
  };
  const tuner = new Tuner({
    catalog: () => catalog,
    reloadCatalog: reload,
    profile,
    policy: config.policy,
    modelsDir,
    dataDir,
    benchmarks: store.benchmarks,
    decisions: store.decisions,
    clock: systemClock,
    ...options.deps,
  });
  return { tuner, store, dataDir, modelsDir, reload, close: () => store.stop() };
}

/**
 * Adds `tiny` to a squeezenet1.1 folder: a real ONNX model with the same input and output
 * (data → ReduceMean over H, W → MatMul to 1000 logits), ~100× cheaper than SqueezeNet, with a
 * recorded fidelity of 0.92 against fp32. A cheap, slightly worse variant makes the tuner's
 * trade-offs certain in tests whatever this machine's speed.
 */
export function addTinyVariant(modelsDir: string): void {
  const dir = path.join(modelsDir, 'squeezenet1.1');
  const weights = new Float32Array(3 * 1000).map((_, i) => Math.sin(i) * 0.01);
  const model = proto.ModelProto.create({
    irVersion: 8,
    producerName: 'edge-agent-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      node: [
        {
          opType: 'ReduceMean',
          input: ['data'],
          output: ['pooled'],
          attribute: [
            { name: 'axes', type: 7, ints: [2, 3] },
            { name: 'keepdims', type: 2, i: 0 },
          ],
        },
        { opType: 'MatMul', input: ['pooled', 'W'], output: ['logits'] },
      ],
      initializer: [
        { name: 'W', dataType: DataType.FLOAT, dims: [3, 1000], rawData: new Uint8Array(weights.buffer) },
      ],
      input: [
        {
          name: 'data',
          type: {
            tensorType: {
              elemType: DataType.FLOAT,
              shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, { dimValue: 224 }, { dimValue: 224 }] },
            },
          },
        },
      ],
      output: [
        {
          name: 'logits',
          type: {
            tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: 1000 }] } },
          },
        },
      ],
    },
  });
  const bytes = Buffer.from(encodeModel(model));
  writeFileSync(path.join(dir, 'tiny.onnx'), bytes);
  const file = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.variants.push({
    id: 'tiny',
    file: 'tiny.onnx',
    sha256: sha256Hex(bytes),
    bytes: bytes.length,
    precision: 'fp32',
    origin: { kind: 'shipped' },
    reference: 'fp32',
    quality: { fidelity: 0.92, metric: 'top1-agreement' },
  });
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}

/**
 * Adds `huge` to a squeezenet1.1 folder: a tiny file (so no estimate filters it up front) whose
 * graph materialises a 1 GiB tensor (ConstantOfShape 256×1024×1024 float, summed): a variant that
 * would take a small board into the OOM killer. Recorded fidelity 1, so only memory decides.
 */
export function addHugeVariant(modelsDir: string): void {
  const dir = path.join(modelsDir, 'squeezenet1.1');
  const shape = new BigInt64Array([256n, 1024n, 1024n]);
  const one = new Float32Array([1]);
  const model = proto.ModelProto.create({
    irVersion: 8,
    producerName: 'edge-agent-test',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'huge',
      node: [
        {
          opType: 'ReduceMean',
          input: ['data'],
          output: ['pooled'],
          attribute: [
            { name: 'axes', type: 7, ints: [1, 2, 3] },
            { name: 'keepdims', type: 2, i: 0 },
          ],
        },
        {
          opType: 'ConstantOfShape',
          input: ['shape'],
          output: ['big'],
          attribute: [
            {
              name: 'value',
              type: 4,
              t: { dataType: DataType.FLOAT, dims: [1], rawData: new Uint8Array(one.buffer) },
            },
          ],
        },
        {
          opType: 'ReduceSum',
          input: ['big'],
          output: ['total'],
          attribute: [{ name: 'keepdims', type: 2, i: 0 }],
        },
        { opType: 'Add', input: ['pooled', 'total'], output: ['logits'] },
      ],
      initializer: [
        { name: 'shape', dataType: DataType.INT64, dims: [3], rawData: new Uint8Array(shape.buffer) },
      ],
      input: [
        {
          name: 'data',
          type: {
            tensorType: {
              elemType: DataType.FLOAT,
              shape: { dim: [{ dimValue: 1 }, { dimValue: 3 }, { dimValue: 224 }, { dimValue: 224 }] },
            },
          },
        },
      ],
      output: [
        {
          name: 'logits',
          type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimValue: 1 }] } } },
        },
      ],
    },
  });
  const bytes = Buffer.from(encodeModel(model));
  writeFileSync(path.join(dir, 'huge.onnx'), bytes);
  const file = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.variants.push({
    id: 'huge',
    file: 'huge.onnx',
    sha256: sha256Hex(bytes),
    bytes: bytes.length,
    precision: 'fp32',
    origin: { kind: 'shipped' },
    reference: 'fp32',
    quality: { fidelity: 1, metric: 'top1-agreement' },
  });
  writeFileSync(file, JSON.stringify(manifest, null, 2));
}

/** A copy of a hardware fixture tree the test may change (battery level, mains). */
export function fixtureCopy(board: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), `hw-${board}-`));
  cpSync(path.join(FIXTURES, 'hardware', board), dir, { recursive: true });
  return dir;
}

/** Sets the laptop fixture's battery: percent and whether it runs on mains. */
export function setBattery(root: string, percent: number, onMains: boolean): void {
  const ps = path.join(root, 'sys/class/power_supply');
  writeFileSync(path.join(ps, 'AC/online'), onMains ? '1\n' : '0\n');
  writeFileSync(path.join(ps, 'BAT0/status'), onMains ? 'Charging\n' : 'Discharging\n');
  writeFileSync(path.join(ps, 'BAT0/capacity'), `${percent}\n`);
  const full = Number(readFileSync(path.join(ps, 'BAT0/energy_full'), 'utf8'));
  writeFileSync(path.join(ps, 'BAT0/energy_now'), `${Math.round((full * percent) / 100)}\n`);
}
