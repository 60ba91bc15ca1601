import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { preprocess } from '../../../src/inference/preprocess.js';
import { derive } from '../../../src/optimize/derive.js';
import { GraphIndex } from '../../../src/optimize/onnx/graph.js';
import { DataType, decodeModel } from '../../../src/optimize/onnx/onnx-io.js';
import {
  catalogWith,
  cocoDir,
  framesFrom,
  initializerTypes,
  maxAbsDiff,
  modelsDir,
  opsOf,
  runOnce,
  tempDataDir,
} from './helpers.js';

const YOLOX = 'yolox-nano';
let frames: Awaited<ReturnType<typeof framesFrom>>;
let dataDir: string;

beforeAll(async () => {
  frames = await framesFrom(cocoDir, 3);
  dataDir = tempDataDir();
});

describe('derivations of yolox-nano', { timeout: 120_000 }, () => {
  it('int8-static (no floor): QDQ on every conv, opset raised to 13, int8 weights, runs', async () => {
    const r = await derive(
      await catalogWith(dataDir),
      YOLOX,
      'int8-static',
      { floor: 'none' },
      { calibration: frames, dryRun: true },
    );
    expect(r.variant.id).toBe('fp32_int8s-pct99.999');
    expect(r.result.inspection.opset).toBe(13);
    expect((r.details.qdq as { quantizedComputeNodes: number }).quantizedComputeNodes).toBe(113);
    expect(initializerTypes(r.bytes).has(DataType.INT8)).toBe(true);
    expect(r.kernels.QLinearConv).toBe(113);
    expect(r.fidelity.detection).toBeDefined();
    expect(r.fidelity.fidelity).toBeGreaterThan(0);
  });

  it('int8-static with a floor: the measured fallback meets it or says it cannot', async () => {
    const r = await derive(
      await catalogWith(dataDir),
      YOLOX,
      'int8-static',
      { floor: 0.6 },
      { calibration: frames, dryRun: true },
    );
    expect(r.fidelity.fidelity).toBeGreaterThanOrEqual(0.6);
    const steps = r.details.steps as Array<{ keptFloat: number; fidelity: number }>;
    if (steps[0]!.fidelity < 0.6) expect((r.details.keptFloat as string[]).length).toBeGreaterThan(0);
  }, 240_000);

  it('int8-weights ≤ 30% with a small loss, fp16 half the size with float16 weights', async () => {
    const catalog = await catalogWith(dataDir);
    const w = await derive(catalog, YOLOX, 'int8-weights', {}, { calibration: frames, dryRun: true });
    expect(w.result.bytes).toBeLessThanOrEqual(0.3 * w.source.bytes);
    expect(w.fidelity.fidelity).toBeGreaterThanOrEqual(0.8); // "small loss": one box of a handful may move
    const h = await derive(catalog, YOLOX, 'fp16', {}, { calibration: frames, dryRun: true });
    expect(initializerTypes(h.bytes).has(DataType.FLOAT16)).toBe(true);
    expect(h.result.bytes).toBeLessThan(0.55 * h.source.bytes);
    expect(h.fidelity.fidelity).toBeGreaterThanOrEqual(0.9);
  });

  it('prune structured skips channels that feed residual Adds and outputs but still cuts FLOPs', async () => {
    const r = await derive(
      await catalogWith(dataDir),
      YOLOX,
      'prune',
      { mode: 'structured', sparsity: 0.1 },
      { calibration: frames, dryRun: true },
    );
    const d = r.details as { prunedLayers: number; skippedLayers: number };
    expect(d.prunedLayers).toBeGreaterThan(0);
    expect(d.skippedLayers).toBeGreaterThan(0);
    expect(r.result.flops!).toBeLessThan(r.source.flops!);
    expect(r.result.parameterCount).toBeLessThan(r.source.parameterCount);
  });

  it('lowrank factorises pointwise convs; input-uint8 matches the float model within 1e-4', async () => {
    const catalog = await catalogWith(dataDir);
    const l = await derive(catalog, YOLOX, 'lowrank', { energy: 0.9 }, { calibration: frames, dryRun: true });
    expect((l.details.factorizedLayers as number) > 0).toBe(true);
    expect(l.result.parameterCount).toBeLessThan(l.source.parameterCount);
    const u = await derive(catalog, YOLOX, 'input-uint8', {}, { calibration: frames, dryRun: true });
    const entry = catalog.model(YOLOX);
    const f = await preprocess(frames.images[0]!, entry.manifest.input);
    const q = await preprocess(frames.images[0]!, {
      ...entry.manifest.input,
      ...u.variant.input,
    } as typeof entry.manifest.input);
    const source = readFileSync(path.join(modelsDir, 'yolox-nano/yolox_nano.onnx'));
    const a = await runOnce(source, 'images', new ort.Tensor('float32', f.data as Float32Array, f.dims));
    const b = await runOnce(u.bytes, 'images', new ort.Tensor('uint8', q.data as Uint8Array, q.dims));
    expect(maxAbsDiff(a.output!, b.output!)).toBeLessThan(1e-4);
  });

  it('is deterministic: deriving twice gives the same sha256', async () => {
    const catalog = await catalogWith(dataDir);
    const a = await derive(
      catalog,
      YOLOX,
      'int8-static',
      { floor: 'none', frames: 2 },
      { calibration: frames },
    );
    const b = await derive(
      catalog,
      YOLOX,
      'int8-static',
      { floor: 'none', frames: 2 },
      { calibration: frames },
    );
    expect(a.variant.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(b.variant.sha256).toBe(a.variant.sha256);
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });
});

describe('clean on ultraface', { timeout: 60_000 }, () => {
  it('gives identical outputs and leaves no initializer among the graph inputs', async () => {
    const catalog = await catalogWith(dataDir);
    const r = await derive(catalog, 'ultraface', 'clean', {}, { calibration: frames });
    expect(r.variant.id).toBe('rfb-320_clean');
    const model = decodeModel(r.bytes);
    const index = new GraphIndex(model.graph!);
    expect(model.graph!.input!.map((i) => i.name)).toEqual(['input']);
    expect(index.runtimeInputs()).toEqual(['input']);
    expect((r.details.clean as { initializerInputsDropped: number }).initializerInputsDropped).toBe(244);
    expect(opsOf(r.bytes).Conv).toBe(52);
    const source = readFileSync(path.join(modelsDir, 'ultraface/ultraface_version-RFB-320.onnx'));
    const input = await preprocess(frames.images[1]!, catalog.model('ultraface').manifest.input);
    const tensor = new ort.Tensor('float32', input.data as Float32Array, input.dims);
    const a = await runOnce(source, 'input', tensor);
    const b = await runOnce(r.bytes, 'input', tensor);
    expect(maxAbsDiff(a.scores!, b.scores!)).toBeLessThan(1e-5);
    expect(maxAbsDiff(a.boxes!, b.boxes!)).toBeLessThan(1e-5);
    expect(r.fidelity.fidelity).toBe(1);
  });
});

describe('int8-weights on ultraface', { timeout: 120_000 }, () => {
  it('every variant ≤ 30% of fp32: int8 weights plus compacted anchor priors, no kernel added', async () => {
    const catalog = await catalogWith(dataDir);
    for (const variant of ['slim-320', 'rfb-320', 'rfb-640']) {
      const r = await derive(
        catalog,
        'ultraface',
        'int8-weights',
        {},
        { calibration: frames, dryRun: true, source: variant },
      );
      expect(r.result.bytes, variant).toBeLessThanOrEqual(0.3 * r.source.bytes);
      const c = r.details.constants as { deduplicated: number; paletted: number };
      expect(c, variant).toMatchObject({ deduplicated: 1, paletted: 2 });
      expect(r.kernels.Gather ?? 0, variant).toBe(0);
      expect(r.fidelity.fidelity, variant).toBeGreaterThanOrEqual(0.8);
    }
  });
});
