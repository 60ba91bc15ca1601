import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../../src/models/catalog.js';
import { fidelityReferenceOf } from '../../../src/tuner/fidelity.js';
import { catalogueHash } from '../../../src/tuner/tuner.js';
import { MODELS } from '../../helpers/paths.js';

describe('the common fidelity reference of a model', () => {
  it('UltraFace names RFB-640: every other export (and anything derived) is judged against it; SqueezeNet keeps its own references', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    const uf = catalog.model('ultraface');
    expect(uf.manifest.fidelityReference).toBe('rfb-640');
    const ref = (id: string) => fidelityReferenceOf(uf, uf.variants.find((v) => v.id === id)!);
    expect([ref('slim-320'), ref('rfb-320'), ref('rfb-640')]).toEqual(['rfb-640', 'rfb-640', null]);
    const derived = { ...uf.variants[0]!, id: 'slim-320_int8', reference: 'slim-320' };
    expect(fidelityReferenceOf(uf, derived)).toBe('rfb-640');
    const sq = catalog.model('squeezenet1.1');
    expect(sq.manifest.fidelityReference).toBeUndefined();
    expect(sq.variants.map((v) => fidelityReferenceOf(sq, v))).toEqual([null, 'fp32']);
  });

  it('a manifest naming an unknown variant is refused; naming one changes the catalogue hash (decisions re-made)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-fidref-'));
    cpSync(path.join(MODELS, 'ultraface'), path.join(dir, 'ultraface'), { recursive: true });
    const file = path.join(dir, 'ultraface', 'manifest.json');
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    const withRef = catalogueHash((await loadCatalog({ modelsDir: dir })).model('ultraface'));
    delete manifest.fidelityReference;
    writeFileSync(file, JSON.stringify(manifest));
    const without = catalogueHash((await loadCatalog({ modelsDir: dir })).model('ultraface'));
    expect(without).not.toBe(withRef);
    writeFileSync(file, JSON.stringify({ ...manifest, fidelityReference: 'rfb-1280' }));
    await expect(loadCatalog({ modelsDir: dir })).rejects.toThrow(
      /fidelityReference "rfb-1280" is not among the variants/,
    );
  });
});
