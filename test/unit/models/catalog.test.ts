import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ModelLoadError } from '../../../src/errors.js';
import { InferenceModel } from '../../../src/inference/model.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { manifestJsonSchemaText } from '../../../src/models/json-schema.js';
import { MODELS } from '../../helpers/paths.js';

describe('model catalog', () => {
  it('lists the three bundled models with their shipped variants', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    expect(catalog.names().sort()).toEqual(['squeezenet1.1', 'ultraface', 'yolox-nano']);
    expect(catalog.model('ultraface').variants.map((v) => v.id)).toEqual(['slim-320', 'rfb-320', 'rfb-640']);
    expect(catalog.model('squeezenet1.1').variants.map((v) => v.id)).toEqual(['fp32', 'fp16']);
    expect(catalog.variant('yolox-nano').variant.id).toBe('fp32');
  });

  it('names the alternatives when a model or variant is unknown', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    expect(() => catalog.model('resnet')).toThrow(
      /unknown model "resnet" \(available: squeezenet1.1, ultraface, yolox-nano\)/,
    );
    expect(() => catalog.variant('ultraface', 'rfb-1280')).toThrow(
      /no variant "rfb-1280" \(available: slim-320, rfb-320, rfb-640\)/,
    );
  });

  it('refuses a variant whose file does not match its sha256, before onnxruntime sees it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-models-'));
    cpSync(path.join(MODELS, 'squeezenet1.1'), path.join(dir, 'squeezenet1.1'), { recursive: true });
    const file = path.join(dir, 'squeezenet1.1', 'squeezenet1.1.onnx');
    writeFileSync(file, Buffer.concat([Buffer.from('tampered'), Buffer.alloc(100)]));
    const catalog = await loadCatalog({ modelsDir: dir });
    const load = InferenceModel.load({ catalog, model: 'squeezenet1.1', variant: 'fp32' });
    await expect(load).rejects.toBeInstanceOf(ModelLoadError);
    await expect(load).rejects.toThrow(
      /sha256 mismatch \(expected 5fb274a075eb…, got [0-9a-f]{12}…; size 108 bytes/,
    );
  });

  it('adds derived variants from the data directory and skips broken or colliding ones', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'ea-data-'));
    const derivedDir = path.join(data, 'models', 'squeezenet1.1');
    mkdirSync(derivedDir, { recursive: true });
    const variant = (id: string, file: string) => ({
      id,
      file,
      sha256: 'a'.repeat(64),
      bytes: 10,
      precision: 'int8',
      origin: {
        kind: 'derived',
        method: 'int8-static',
        params: {},
        sourceVariant: 'fp32',
        sourceSha256: 'b'.repeat(64),
      },
      reference: 'fp32',
    });
    writeFileSync(
      path.join(derivedDir, 'manifest.json'),
      JSON.stringify({
        name: 'squeezenet1.1',
        variants: [
          variant('int8', 'int8.onnx'),
          variant('fp32', 'x.onnx'),
          variant('evil', '../../../etc/passwd'),
        ],
      }),
    );
    const catalog = await loadCatalog({ modelsDir: MODELS, dataDir: data });
    const ids = catalog.model('squeezenet1.1').variants.map((v) => `${v.id}:${v.derived}`);
    expect(ids).toEqual(['fp32:false', 'fp16:false', 'int8:true']);
    expect(catalog.variant('squeezenet1.1', 'int8').variant.path).toBe(path.join(derivedDir, 'int8.onnx'));

    writeFileSync(path.join(derivedDir, 'manifest.json'), '{ not json');
    const again = await loadCatalog({ modelsDir: MODELS, dataDir: data });
    expect(again.model('squeezenet1.1').variants).toHaveLength(2);
  });

  it('rejects an invalid bundled manifest with the bad field named', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-models-'));
    mkdirSync(path.join(dir, 'broken'));
    writeFileSync(
      path.join(dir, 'broken', 'manifest.json'),
      JSON.stringify({ name: 'broken', task: 'segmentation' }),
    );
    await expect(loadCatalog({ modelsDir: dir })).rejects.toThrow(/task: /);
  });
});

describe('models/manifest.schema.json', () => {
  it('is in sync with the zod manifest schema (run `npm run gen:schema` after changing it)', () => {
    expect(readFileSync(path.join(MODELS, 'manifest.schema.json'), 'utf8')).toBe(manifestJsonSchemaText());
  });
});
