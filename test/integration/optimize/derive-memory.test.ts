import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ModelInput, preprocess } from '../../../src/inference/preprocess.js';
import { derive } from '../../../src/optimize/derive.js';
import { decodeModel, type ModelProto } from '../../../src/optimize/onnx/onnx-io.js';
import { probeTensors } from '../../../src/optimize/onnx/runtime.js';
import { deriveInChildProcess } from '../../../src/optimize/process/derive-process.js';
import { collectHistograms } from '../../../src/optimize/quantize/calibrate.js';
import { planQdq } from '../../../src/optimize/quantize/qdq.js';
import { catalogWith, cocoDir, framesFrom, modelsDir, tempDataDir } from './helpers.js';

// The derivation's memory cuts (docs/memory.md): tensors exposed a group at a time must give the
// same shapes and the same histograms (hence the same ranges and bytes) as all at once.
let model: ModelProto;
let inputs: ModelInput[];

beforeAll(async () => {
  model = decodeModel(readFileSync(path.join(modelsDir, 'yolox-nano/yolox_nano.onnx')));
  const catalog = await catalogWith(tempDataDir());
  const frames = await framesFrom(cocoDir, 2);
  inputs = [];
  for (const img of frames.images)
    inputs.push(await preprocess(img, catalog.model('yolox-nano').manifest.input));
});

describe('derivation memory', { timeout: 240_000 }, () => {
  it('probing shapes in groups finds what exposing every tensor at once finds', async () => {
    const grouped = await probeTensors(model, 4 * 2 ** 20);
    const whole = await probeTensors(model, 2 ** 40);
    expect(grouped.shapes.size).toBeGreaterThan(100);
    expect(grouped.shapes).toEqual(whole.shapes);
    expect(grouped.types).toEqual(whole.types);
  });

  it('calibrating in groups of exposed tensors gives the same histograms as one session exposing all', async () => {
    const probe = await probeTensors(model);
    const tensors = planQdq(model).tensors;
    const bytes = (t: string) => {
      const s = probe.shapes.get(t);
      return s ? 4 * s.reduce((a, b) => a * b, 1) : undefined;
    };
    const options = { inputName: 'images', threads: 1, tensorBytes: bytes };
    const grouped = await collectHistograms(model, tensors, inputs, { ...options, budgetBytes: 2 * 2 ** 20 });
    const whole = await collectHistograms(model, tensors, inputs, { ...options, budgetBytes: 2 ** 40 });
    expect(grouped.size).toBe(tensors.length);
    for (const [name, h] of whole) {
      const g = grouped.get(name)!;
      expect({ name, min: g.min, max: g.max, count: g.count, range: g.range }).toEqual({
        name,
        min: h.min,
        max: h.max,
        count: h.count,
        range: h.range,
      });
      expect(Buffer.from(g.counts.buffer).equals(Buffer.from(h.counts.buffer))).toBe(true);
    }
  });

  it('refuses up front, with what it needs, when the limit or the device cannot afford it; writes nothing', async () => {
    const dataDir = tempDataDir();
    const catalog = await catalogWith(dataDir);
    await expect(
      derive(catalog, 'yolox-nano', 'int8-static', {}, { maxMemoryMB: 64, dataDir }),
    ).rejects.toThrow(
      /yolox-nano\/fp32 int8-static: needs about \d+ MB, more than the allowed 64 MB \(--max-memory-mb\)/,
    );
    await expect(
      derive(catalog, 'yolox-nano', 'int8-static', {}, { memAvailableMB: () => 40, dataDir }),
    ).rejects.toThrow(/the device has 40 MB available/);
    expect((await catalogWith(dataDir)).model('yolox-nano').variants.filter((v) => v.derived)).toEqual([]);
  });

  it('the derivation child refuses the same way (its --max-memory-mb)', async () => {
    const dataDir = tempDataDir();
    await expect(
      deriveInChildProcess({
        modelsDir,
        dataDir,
        model: 'yolox-nano',
        method: 'int8-static',
        params: {},
        maxMemoryMB: 64,
      }),
    ).rejects.toThrow(/more than the allowed 64 MB/);
  });
});
