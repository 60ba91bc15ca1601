import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { preprocess } from '../../../src/inference/preprocess.js';
import { effectiveInputSpec } from '../../../src/models/manifest.js';
import { derive } from '../../../src/optimize/derive.js';
import { DataType, decodeModel } from '../../../src/optimize/onnx/onnx-io.js';
import type { Progress } from '../../../src/optimize/progress.js';
import {
  catalogWith,
  framesFrom,
  initializerTypes,
  maxAbsDiff,
  opsOf,
  runOnce,
  samplesDir,
  tempDataDir,
  vocDir,
} from './helpers.js';

const MODEL = 'squeezenet1.1';
let frames: Awaited<ReturnType<typeof framesFrom>>;
let dataDir: string;

beforeAll(async () => {
  frames = await framesFrom(samplesDir, 4);
  dataDir = tempDataDir();
});

describe('derivations of squeezenet1.1', { timeout: 120_000 }, () => {
  it('int8-static: QDQ with int8 weights, fused by onnxruntime, top-1 agreement ≥ floor, written to the catalog', async () => {
    const catalog = await catalogWith(dataDir);
    const progress: Progress[] = [];
    const r = await derive(
      catalog,
      MODEL,
      'int8-static',
      { floor: 0.75 },
      {
        calibration: frames,
        onProgress: (p) => progress.push(p),
      },
    );
    expect(r.variant.id).toBe('fp32_int8s-pct99.999-f0.75');
    const ops = opsOf(r.bytes);
    expect(ops.QuantizeLinear).toBeGreaterThan(10);
    expect(ops.DequantizeLinear).toBeGreaterThan(ops.QuantizeLinear!);
    expect(initializerTypes(r.bytes).has(DataType.INT8)).toBe(true);
    expect(r.kernels.QLinearConv).toBeGreaterThan(0);
    expect(r.fidelity.fidelity).toBeGreaterThanOrEqual(0.75);
    expect(r.result.bytes).toBeLessThan(0.35 * r.source.bytes);
    expect(progress.some((p) => p.stage === 'calibrate' && p.done === p.total)).toBe(true);
    // The catalog reads it back, and the file is what the manifest says.
    const again = await catalogWith(dataDir);
    const { variant } = again.variant(MODEL, r.variant.id);
    expect(variant.derived).toBe(true);
    expect(variant.origin).toMatchObject({ kind: 'derived', method: 'int8-static', sourceVariant: 'fp32' });
    expect(variant.quality?.fidelity).toBe(r.fidelity.fidelity);
    expect(readFileSync(variant.path).length).toBe(variant.bytes);
  });

  it('int8-static sensitivity fallback keeps measured layers in float until the floor is met', async () => {
    const catalog = await catalogWith(dataDir);
    const r = await derive(
      catalog,
      MODEL,
      'int8-static',
      { floor: 1 },
      {
        calibration: frames,
        evaluation: { dir: vocDir },
        dryRun: true,
      },
    );
    const steps = r.details.steps as Array<{ keptFloat: number; fidelity: number }>;
    expect(steps[0]!.keptFloat).toBe(0);
    expect(r.fidelity.fidelity).toBe(1);
    if (steps[0]!.fidelity < 1) {
      expect((r.details.keptFloat as string[]).length).toBeGreaterThan(0);
      expect(r.variant.precision).toBe('mixed');
      expect(r.details.mostSensitive).toBeDefined();
    }
    expect(r.path).toBeUndefined();
  });

  it('int8-weights: int8 weights behind DequantizeLinear, file ≤ 30% of fp32', async () => {
    const r = await derive(
      await catalogWith(dataDir),
      MODEL,
      'int8-weights',
      {},
      { calibration: frames, dryRun: true },
    );
    expect(r.result.bytes).toBeLessThanOrEqual(0.3 * r.source.bytes);
    expect(opsOf(r.bytes).DequantizeLinear).toBe(26);
    expect(opsOf(r.bytes).QuantizeLinear).toBeUndefined();
    expect(r.fidelity.fidelity).toBeGreaterThanOrEqual(0.75);
  });

  it('fp16: float16 initializers, float32 input and output kept', async () => {
    const r = await derive(
      await catalogWith(dataDir),
      MODEL,
      'fp16',
      {},
      { calibration: frames, dryRun: true },
    );
    const model = decodeModel(r.bytes);
    expect(initializerTypes(r.bytes)).toEqual(new Set([DataType.FLOAT16]));
    expect(model.graph!.input![0]!.type!.tensorType!.elemType).toBe(DataType.FLOAT);
    expect(model.graph!.output![0]!.type!.tensorType!.elemType).toBe(DataType.FLOAT);
    expect(r.fidelity.fidelity).toBe(1);
    expect(r.result.bytes).toBeLessThan(0.55 * r.source.bytes);
  });

  it('prune structured: fewer channels, real parameter and FLOPs reduction; unstructured: zeros', async () => {
    const catalog = await catalogWith(dataDir);
    const s = await derive(
      catalog,
      MODEL,
      'prune',
      { mode: 'structured', sparsity: 0.25 },
      { calibration: frames, dryRun: true },
    );
    expect(s.result.parameterCount).toBeLessThan(0.8 * s.source.parameterCount);
    expect(s.result.flops!).toBeLessThan(0.8 * s.source.flops!);
    const conv0 = decodeModel(s.bytes).graph!.initializer!.find(
      (t) => t.name === 'squeezenet0_conv0_weight',
    )!;
    expect(Number(conv0.dims![0])).toBe(48); // 64 output channels, 25% removed
    const u = await derive(catalog, MODEL, 'prune', { sparsity: 0.5 }, { calibration: frames, dryRun: true });
    expect(u.result.nonZeroParameters).toBeLessThan(0.52 * u.source.parameterCount);
    expect(u.result.parameterCount).toBe(u.source.parameterCount);
  });

  it('lowrank: 1×1 convolutions factorised into two, with fewer parameters', async () => {
    const r = await derive(
      await catalogWith(dataDir),
      MODEL,
      'lowrank',
      { energy: 0.9 },
      { calibration: frames, dryRun: true },
    );
    const layers = r.details.layers as Array<{ shape: [number, number]; rank: number }>;
    expect(layers.length).toBeGreaterThan(0);
    for (const l of layers) expect(l.rank * (l.shape[0] + l.shape[1])).toBeLessThan(l.shape[0] * l.shape[1]);
    expect(opsOf(r.bytes).Conv).toBe(26 + layers.length);
    expect(r.result.parameterCount).toBeLessThan(r.source.parameterCount);
  });

  it('lowrank refuses an energy at which no layer gets smaller', async () => {
    await expect(
      derive(
        await catalogWith(dataDir),
        MODEL,
        'lowrank',
        { energy: 0.999 },
        { calibration: frames, dryRun: true },
      ),
    ).rejects.toThrow(/lower the energy/);
  });

  it('input-uint8 on an int8 variant: takes uint8 NHWC pixels and matches the float-input variant within 1e-4', async () => {
    const catalog = await catalogWith(dataDir);
    const int8 = await derive(catalog, MODEL, 'int8-weights', {}, { calibration: frames });
    const withInt8 = await catalogWith(dataDir);
    const r = await derive(
      withInt8,
      MODEL,
      'input-uint8',
      {},
      { source: int8.variant.id, calibration: frames },
    );
    expect(r.variant.id).toBe('fp32_int8w_u8in');
    expect(r.variant.input).toMatchObject({
      dtype: 'uint8',
      layout: 'NHWC',
      normalize: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
    });
    expect(existsSync(r.path!)).toBe(true);
    const entry = withInt8.model(MODEL);
    const floatSpec = effectiveInputSpec(entry.manifest.input, int8.variant);
    const u8Spec = effectiveInputSpec(entry.manifest.input, r.variant);
    const image = frames.images[0]!;
    const f = await preprocess(image, floatSpec);
    const u = await preprocess(image, u8Spec);
    expect(u.data).toBeInstanceOf(Uint8Array);
    const a = await runOnce(int8.bytes, 'data', new ort.Tensor('float32', f.data as Float32Array, f.dims));
    const b = await runOnce(r.bytes, 'data', new ort.Tensor('uint8', u.data as Uint8Array, u.dims));
    expect(maxAbsDiff(a.logits!, b.logits!)).toBeLessThan(1e-4);
    expect(path.dirname(r.path!)).toBe(path.join(dataDir, 'models', MODEL));
  });
});
