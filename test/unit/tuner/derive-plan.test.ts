import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../../src/models/catalog.js';
import { chooseImprovements } from '../../../src/tuner/derive-plan.js';
import { MODELS } from '../../helpers/paths.js';

const chosen = (variant: string) => ({ variant });

describe('chooseImprovements: a cheaper equal of the chosen variant', () => {
  it('derives input-uint8 of a chosen variant the pipeline normalises in JavaScript, from that variant', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    const ultraface = catalog.model('ultraface');
    expect(chooseImprovements(ultraface, chosen('slim-320'))).toEqual([
      expect.objectContaining({ method: 'input-uint8', source: 'slim-320', id: 'slim-320_u8in', params: {} }),
    ]);
    // A variant with its own input size (RFB-640: 640×480) is still a float NCHW input with a mean/std.
    expect(chooseImprovements(ultraface, chosen('rfb-640')).map((j) => j.id)).toEqual(['rfb-640_u8in']);
    const squeezenet = catalog.model('squeezenet1.1');
    expect(chooseImprovements(squeezenet, chosen('fp16')).map((j) => j.source)).toEqual(['fp16']);
  });

  it('nothing for a model whose input is copied, not normalised (YOLOX takes 0–255 floats), an unknown or absent choice, or an existing derivation', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    expect(chooseImprovements(catalog.model('yolox-nano'), chosen('fp32'))).toEqual([]);
    const ultraface = catalog.model('ultraface');
    expect(chooseImprovements(ultraface, null)).toEqual([]);
    expect(chooseImprovements(ultraface, chosen('no-such-variant'))).toEqual([]);
    const slim = ultraface.variants.find((v) => v.id === 'slim-320')!;
    const withDerived = {
      ...ultraface,
      variants: [
        ...ultraface.variants,
        { ...slim, id: 'slim-320_u8in', input: { dtype: 'uint8' as const }, derived: true },
      ],
    };
    expect(chooseImprovements(withDerived, chosen('slim-320'))).toEqual([]);
    // The derived one takes bytes: nothing further to derive from it.
    expect(chooseImprovements(withDerived, chosen('slim-320_u8in'))).toEqual([]);
  });
});
