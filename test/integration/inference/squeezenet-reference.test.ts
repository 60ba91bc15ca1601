import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceModel } from '../../../src/inference/model.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { readNpyFloat32 } from '../../helpers/npy.js';
import { FIXTURES, MODELS } from '../../helpers/paths.js';

describe('squeezenet1.1 reproduces the ONNX Model Zoo reference output', () => {
  it('max |Δlogit| <= 1e-3 and the same top-1 on test_data_set_0', async () => {
    const dir = path.join(FIXTURES, 'reference/squeezenet1.1');
    const input = readNpyFloat32(path.join(dir, 'input_0.npy'));
    const expected = readNpyFloat32(path.join(dir, 'output_0.npy'));
    expect(input.shape).toEqual([1, 3, 224, 224]);
    expect(expected.shape).toEqual([1, 1000]);

    const catalog = await loadCatalog({ modelsDir: MODELS });
    const model = await InferenceModel.load({ catalog, model: 'squeezenet1.1', variant: 'fp32' });
    try {
      const outputs = await model.run({ data: input.data, dims: [1, 3, 224, 224] });
      const logits = outputs.logits!.data;
      expect(logits.length).toBe(1000);
      let maxDiff = 0;
      for (let i = 0; i < 1000; i++) maxDiff = Math.max(maxDiff, Math.abs(logits[i]! - expected.data[i]!));
      expect(maxDiff).toBeLessThanOrEqual(1e-3);
      const argmax = (a: Float32Array) => a.indexOf(Math.max(...a));
      expect(argmax(logits)).toBe(argmax(expected.data));
    } finally {
      await model.dispose();
    }
  });
});
