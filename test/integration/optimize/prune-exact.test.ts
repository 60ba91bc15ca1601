import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { attrInt, GraphIndex } from '../../../src/optimize/onnx/graph.js';
import { cloneModel, decodeModel, encodeModel, type ModelProto } from '../../../src/optimize/onnx/onnx-io.js';
import { probeShapes, sessionFor, zeroFeeds } from '../../../src/optimize/onnx/runtime.js';
import { dimsOf, floatTensor, readFloats } from '../../../src/optimize/onnx/tensor.js';
import { cleanModel } from '../../../src/optimize/transforms/clean.js';
import { pruneStructured } from '../../../src/optimize/transforms/prune.js';
import { maxAbsDiff, modelsDir } from './helpers.js';

/** Zeroes the first `ratio` of output channels (weights and bias) of every group-1 Conv. */
function zeroChannels(model: ModelProto, ratio: number): void {
  const index = new GraphIndex(model.graph!);
  const list = model.graph!.initializer!;
  for (const n of model.graph!.node ?? []) {
    if (n.opType !== 'Conv' || attrInt(n, 'group', 1) !== 1) continue;
    const w = index.initializers.get(n.input![1]!)!;
    const dims = dimsOf(w);
    const values = readFloats(w);
    const per = values.length / dims[0]!;
    const k = Math.floor(dims[0]! * ratio);
    values.fill(0, 0, k * per);
    list[list.indexOf(w)] = floatTensor(w.name!, dims, values);
    const b = n.input![2] ? index.initializers.get(n.input![2]!) : undefined;
    if (b) {
      const bias = readFloats(b);
      bias.fill(0, 0, k);
      list[list.indexOf(b)] = floatTensor(b.name!, [bias.length], bias);
    }
  }
}

async function outputs(model: ModelProto): Promise<Float32Array[]> {
  const feeds = zeroFeeds(model);
  for (const t of Object.values(feeds)) {
    const d = t.data as Float32Array;
    for (let i = 0; i < d.length; i++) d[i] = Math.sin(i * 0.01) * 2 + 1;
  }
  const session = await sessionFor(encodeModel(model));
  try {
    const r = await session.run(feeds);
    return [...session.outputNames].sort().map((n) => r[n]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

describe('structured pruning is exact on channels that carry nothing', { timeout: 60_000 }, () => {
  for (const [name, file] of [
    ['squeezenet1.1', 'squeezenet1.1/squeezenet1.1.onnx'],
    ['yolox-nano', 'yolox-nano/yolox_nano.onnx'],
  ] as const) {
    it(`${name}: removing zeroed channels (lowest L1) changes no output`, async () => {
      const model = decodeModel(readFileSync(path.join(modelsDir, file)));
      cleanModel(model);
      zeroChannels(model, 0.1);
      const pruned = cloneModel(model);
      const report = pruneStructured(pruned, 0.1, await probeShapes(pruned));
      expect(report.prunedLayers).toBeGreaterThan(10);
      expect(encodeModel(pruned).length).toBeLessThan(encodeModel(model).length);
      const [a, b] = [await outputs(model), await outputs(pruned)];
      for (let i = 0; i < a.length; i++) expect(maxAbsDiff(a[i]!, b[i]!)).toBeLessThan(1e-4);
    });
  }
});
