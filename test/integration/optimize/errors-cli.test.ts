import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { writeDerivedVariant } from '../../../src/models/derived-store.js';
import { sha256Hex } from '../../../src/models/integrity.js';
import { derive } from '../../../src/optimize/derive.js';
import { AbortedError, DerivationError, OnnxFormatError } from '../../../src/optimize/errors.js';
import { decodeModel, encodeModel, proto } from '../../../src/optimize/onnx/onnx-io.js';
import { modelsDir, root, samplesDir, tempDataDir } from './helpers.js';

/** A models folder with squeezenet whose fp32 file is replaced by `bytes` (manifest sha256 updated). */
function modelsWith(bytes: Uint8Array): string {
  const dir = mkdtempSync(path.join(tempDataDir(), 'models-'));
  const m = path.join(dir, 'squeezenet1.1');
  mkdirSync(m);
  copyFileSync(path.join(modelsDir, 'squeezenet1.1/labels.txt'), path.join(m, 'labels.txt'));
  const manifest = JSON.parse(readFileSync(path.join(modelsDir, 'squeezenet1.1/manifest.json'), 'utf8'));
  manifest.variants = [
    { ...manifest.variants[0], file: 'model.onnx', sha256: sha256Hex(bytes), bytes: bytes.length },
  ];
  writeFileSync(path.join(m, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(path.join(m, 'model.onnx'), bytes);
  return dir;
}

function onnxFilesIn(dataDir: string): string[] {
  const dir = path.join(dataDir, 'models', 'squeezenet1.1');
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.onnx') || f.endsWith('.tmp'));
  } catch {
    return [];
  }
}

const squeezenet = readFileSync(path.join(modelsDir, 'squeezenet1.1/squeezenet1.1.onnx'));

describe('bad input is a clear error and leaves no file behind', () => {
  const cases: Array<[string, () => Uint8Array, RegExp]> = [
    ['a truncated file', () => squeezenet.subarray(0, 100_000), /truncated|not a readable ONNX model/],
    ['a non-ONNX file', () => readFileSync(path.join(samplesDir, 'chelsea.png')), /not .*ONNX model/],
    [
      'a model with external data',
      () => {
        const model = decodeModel(squeezenet);
        const t = model.graph!.initializer![1]!;
        t.rawData = new Uint8Array(0);
        t.dataLocation = 1;
        t.externalData = [proto.StringStringEntryProto.create({ key: 'location', value: '/etc/shadow' })];
        return encodeModel(model);
      },
      /external data/,
    ],
  ];
  for (const [what, make, message] of cases) {
    it(what, async () => {
      const dataDir = tempDataDir();
      const catalog = await loadCatalog({ modelsDir: modelsWith(make()), dataDir });
      const attempt = derive(catalog, 'squeezenet1.1', 'clean', {}, { calibration: { dir: samplesDir } });
      await expect(attempt).rejects.toThrow(OnnxFormatError);
      await expect(derive(catalog, 'squeezenet1.1', 'clean', {})).rejects.toThrow(message);
      expect(onnxFilesIn(dataDir)).toEqual([]);
    });
  }

  it('an unknown method and an empty calibration folder', async () => {
    const dataDir = tempDataDir();
    const catalog = await loadCatalog({ modelsDir, dataDir });
    await expect(derive(catalog, 'squeezenet1.1', 'int4' as 'clean', {})).rejects.toThrow(
      /unknown method "int4"/,
    );
    const empty = mkdtempSync(path.join(tempDataDir(), 'empty-'));
    writeFileSync(path.join(empty, 'notes.txt'), 'no images here');
    const attempt = derive(catalog, 'squeezenet1.1', 'int8-static', {}, { calibration: { dir: empty } });
    await expect(attempt).rejects.toThrow(DerivationError);
    await expect(
      derive(catalog, 'squeezenet1.1', 'int8-static', {}, { calibration: { dir: empty } }),
    ).rejects.toThrow(/holds no images/);
    expect(onnxFilesIn(dataDir)).toEqual([]);
  });

  it('aborting during calibration stops with AbortedError and writes nothing', async () => {
    const dataDir = tempDataDir();
    const catalog = await loadCatalog({ modelsDir, dataDir });
    const controller = new AbortController();
    const attempt = derive(
      catalog,
      'squeezenet1.1',
      'int8-static',
      {},
      {
        calibration: { dir: samplesDir },
        signal: controller.signal,
        onProgress: (p) => {
          if (p.stage === 'calibrate' && p.done === 2) controller.abort();
        },
      },
    );
    await expect(attempt).rejects.toThrow(AbortedError);
    expect(onnxFilesIn(dataDir)).toEqual([]);
  });

  it('the store never writes over a shipped variant or into the bundled folder', async () => {
    const variant = {
      id: 'fp32',
      precision: 'fp32' as const,
      origin: { kind: 'shipped' as const },
      reference: null,
    };
    const base = {
      modelName: 'squeezenet1.1',
      bundledDir: path.join(modelsDir, 'squeezenet1.1'),
      bytes: new Uint8Array([1]),
    };
    await expect(
      writeDerivedVariant({ ...base, root: tempDataDir(), shippedIds: ['fp32'], variant }),
    ).rejects.toThrow(/is a shipped variant/);
    await expect(
      writeDerivedVariant({ ...base, root: modelsDir, shippedIds: [], variant: { ...variant, id: 'x' } }),
    ).rejects.toThrow(/overlaps the bundled model folder/);
  });
});

function streams() {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (d) => {
    chunks.out += d;
  });
  err.on('data', (d) => {
    chunks.err += d;
  });
  return { out, err, chunks };
}

describe('edge-agent derive / fidelity', () => {
  it('derives with --json, then measures fidelity of the written variant', async () => {
    const dataDir = tempDataDir();
    const s = streams();
    const env = { EDGE_AGENT_DATA_DIR: dataDir };
    const code = await main(['derive', 'squeezenet1.1', '--method', 'fp16', '--calib', 'samples', '--json'], {
      env,
      cwd: root,
      stdout: s.out,
      stderr: s.err,
    });
    expect(code).toBe(0);
    const json = JSON.parse(s.chunks.out);
    expect(json.variant.id).toBe('fp32_fp16');
    expect(json.path).toBe(path.join(dataDir, 'models/squeezenet1.1/fp32_fp16.onnx'));
    expect(json.fidelity.metric).toBe('top1-agreement');
    expect(s.chunks.err).toMatch(/fidelity \d+\/\d+/); // progress on stderr

    const f = streams();
    const fcode = await main(
      ['fidelity', 'squeezenet1.1', '--variant', 'fp32_fp16', '--frames', 'samples', '--json', '-q'],
      {
        env,
        cwd: root,
        stdout: f.out,
        stderr: f.err,
      },
    );
    expect(fcode).toBe(0);
    const report = JSON.parse(f.chunks.out);
    expect(report).toMatchObject({
      model: 'squeezenet1.1',
      variant: 'fp32_fp16',
      reference: 'fp32',
      frames: 8,
    });
    expect(report.classification.top1Agreement).toBe(1);
  });

  it('--max-memory-mb: refuses up front in one line when the derivation needs more, writes nothing', async () => {
    const s = streams();
    const dataDir = tempDataDir();
    const code = await main(['derive', 'yolox-nano', '--method', 'int8-static', '--max-memory-mb', '64'], {
      env: { EDGE_AGENT_DATA_DIR: dataDir },
      cwd: root,
      stdout: s.out,
      stderr: s.err,
    });
    expect(code).not.toBe(0);
    expect(s.chunks.err.trim().split('\n')).toHaveLength(1);
    expect(s.chunks.err).toMatch(/needs about \d+ MB, more than the allowed 64 MB \(--max-memory-mb\)/);
    const bad = streams();
    expect(
      await main(['derive', 'yolox-nano', '--method', 'int8-static', '--max-memory-mb', 'lots'], {
        env: { EDGE_AGENT_DATA_DIR: dataDir },
        cwd: root,
        stdout: bad.out,
        stderr: bad.err,
      }),
    ).not.toBe(0);
    expect(bad.chunks.err).toMatch(/--max-memory-mb expects a positive number, got "lots"/);
  });

  it('prints one line for an unknown method and exits non-zero', async () => {
    const s = streams();
    const code = await main(['derive', 'squeezenet1.1', '--method', 'magic'], {
      env: { EDGE_AGENT_DATA_DIR: tempDataDir() },
      cwd: root,
      stdout: s.out,
      stderr: s.err,
    });
    expect(code).not.toBe(0);
    expect(s.chunks.err.trim().split('\n')).toHaveLength(1);
    expect(s.chunks.err).toMatch(/unknown method "magic"/);
  });
});
