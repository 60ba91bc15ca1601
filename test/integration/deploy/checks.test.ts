import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { comparisonVerdict, DEFAULT_COMPARISON_RULES } from '../../../src/fleet/deploy/health.js';
import { compareInChild, type ModelView, validateInChild } from '../../../src/fleet/deploy/validate.js';
import { decodeImage } from '../../../src/image/decode.js';
import type { RawImage } from '../../../src/image/types.js';
import { loadCatalog, readLabels } from '../../../src/models/catalog.js';
import { effectiveInputSpec } from '../../../src/models/manifest.js';
import { addBalloon, scaleOutput } from '../../helpers/onnx-edits.js';
import { REPO } from '../../helpers/paths.js';

const SLIM = path.join(REPO, 'models/ultraface/ultraface_version-slim-320.onnx');
const dir = mkdtempSync(path.join(tmpdir(), 'ea-deploy-checks-'));
const limits = { timeoutMs: 60_000, maxHeapMB: 256, memoryMB: 512 };
let view: ModelView;
let faces: RawImage[];

beforeAll(async () => {
  const catalog = await loadCatalog({ modelsDir: path.join(REPO, 'models') });
  const { model, variant } = catalog.variant('ultraface', 'slim-320');
  view = {
    task: model.manifest.task,
    input: effectiveInputSpec(model.manifest.input, variant),
    decoder: model.manifest.decoder,
    labels: await readLabels(model),
  };
  faces = await Promise.all(
    ['astronaut.png', '000000086956.jpg', '000000424349.jpg'].map((f) =>
      decodeImage(path.join(REPO, 'samples', f)),
    ),
  );
});

describe('validation child: a recent frame, the manifest, memory limits', () => {
  it('runs the model on a frame preprocessed as the manifest says and decodes it (a face on the astronaut picture)', async () => {
    const r = await validateInChild(SLIM, { ...limits, frame: faces[0], model: view });
    expect(r.input).toBe('frame');
    expect(r.decoded?.detections).toBeGreaterThanOrEqual(1);
    expect(r.outputs.map((o) => o.name).sort()).toEqual(['boxes', 'scores']);
    expect(r.peakRssMB).toBeGreaterThan(0);
    // Without a manifest view: zeros, as before.
    expect((await validateInChild(SLIM, limits)).input).toBe('zeros');
  }, 120_000);

  it('a manifest whose input name the model lacks is refused by the child', async () => {
    const wrong = { ...view, input: { ...view.input, name: 'image' } };
    await expect(validateInChild(SLIM, { ...limits, frame: faces[0], model: wrong })).rejects.toThrow(
      /input "image" is not an input of the model/,
    );
  }, 60_000);

  it('a model that allocates absurd native memory (8 GB at run time) fails in the child under the memory limit', async () => {
    const file = path.join(dir, 'balloon.onnx');
    writeFileSync(file, addBalloon(readFileSync(SLIM), 8000));
    await expect(validateInChild(file, { ...limits, memoryMB: 256 })).rejects.toThrow(
      /validation process could not allocate memory within its limit of 256 MB|above the limit of 256 MB/,
    );
  }, 60_000);

  it('memory just above the limit (600 MB touched, limit 256 MB) is refused too; the same model passes with room', async () => {
    const file = path.join(dir, 'balloon600.onnx');
    writeFileSync(file, addBalloon(readFileSync(SLIM), 600));
    await expect(validateInChild(file, { ...limits, memoryMB: 256 })).rejects.toThrow(/memory/);
    // The resident-memory watch on its own (no RLIMIT_DATA): the child is killed once it holds more.
    await expect(validateInChild(file, { ...limits, memoryMB: 256, rlimit: false })).rejects.toThrow(
      /validation process used \d+ MB of memory, above the limit of 256 MB; killed/,
    );
    const roomy = await validateInChild(file, { ...limits, memoryMB: 2048 });
    expect(roomy.outputs.map((o) => o.name)).toContain('balloon');
    expect(roomy.peakRssMB).toBeGreaterThan(600);
  }, 90_000);
});

describe('health comparison on the same frames (child process)', () => {
  it('the same variant: fidelity 1; scores × 0: detections collapse → the verdict rolls back', async () => {
    const same = await compareInChild(
      { file: SLIM, model: view },
      { file: SLIM, model: view },
      faces,
      limits,
    );
    expect(same.fidelity).toBe(1);
    expect(same.detection!.referenceDetections).toBeGreaterThanOrEqual(3);
    expect(comparisonVerdict(same, DEFAULT_COMPARISON_RULES).ok).toBe(true);

    const collapsed = path.join(dir, 'collapsed.onnx');
    writeFileSync(collapsed, scaleOutput(readFileSync(SLIM), 'scores', 0));
    const r = await compareInChild(
      { file: SLIM, model: view },
      { file: collapsed, model: view },
      faces,
      limits,
    );
    expect(r.detection!.variantDetections).toBe(0);
    const v = comparisonVerdict(r, DEFAULT_COMPARISON_RULES);
    expect(v.ok).toBe(false);
    expect(!v.ok && v.reason).toMatch(
      /detections collapsed: 0 on 3 live frames where the previous variant found \d+/,
    );
  }, 120_000);
});
