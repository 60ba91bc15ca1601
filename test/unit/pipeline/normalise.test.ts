import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { manifestSchemas } from '../../../src/models/manifest.js';
import { channelAffine, normalisesInJavaScript } from '../../../src/pipeline/normalise.js';
import { MODELS } from '../../helpers/paths.js';

const input = (model: string) =>
  manifestSchemas().manifestSchema.parse(
    JSON.parse(readFileSync(path.join(MODELS, model, 'manifest.json'), 'utf8')),
  ).input;

describe('normalisesInJavaScript', () => {
  it('is true for the bundled float models that normalise, false for YOLOX (raw pixel values)', () => {
    expect(normalisesInJavaScript(input('ultraface'))).toBe(true);
    expect(normalisesInJavaScript(input('squeezenet1.1'))).toBe(true);
    expect(normalisesInJavaScript(input('yolox-nano'))).toBe(false);
  });

  it('is false for a model that takes camera bytes, and true for any one channel off identity', () => {
    const identity = {
      scale: 1,
      mean: [0, 0, 0] as [number, number, number],
      std: [1, 1, 1] as [number, number, number],
    };
    expect(normalisesInJavaScript({ dtype: 'uint8', normalize: { ...identity, scale: 1 / 255 } })).toBe(
      false,
    );
    expect(normalisesInJavaScript({ dtype: 'float32', normalize: identity })).toBe(false);
    expect(normalisesInJavaScript({ dtype: 'float32', normalize: { ...identity, mean: [0, 0, 0.5] } })).toBe(
      true,
    );
    expect(normalisesInJavaScript({ dtype: 'float32', normalize: { ...identity, std: [1, 2, 1] } })).toBe(
      true,
    );
  });

  it('channelAffine is value · scale/std − mean/std', () => {
    expect(channelAffine({ scale: 1, mean: [127, 127, 127], std: [128, 128, 128] }, 1)).toEqual({
      a: 1 / 128,
      b: -127 / 128,
    });
  });
});
