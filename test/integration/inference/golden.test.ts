import { beforeAll, describe, expect, it } from 'vitest';
import { InferenceModel } from '../../../src/inference/model.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import {
  boxIou,
  GOLDEN_VARIANTS,
  type GoldenDetection,
  parseGoldenClass,
  readGolden,
} from '../../helpers/golden.js';
import { fixtureImage, MODELS } from '../../helpers/paths.js';

// Decoded outputs of every bundled variant on the shared photographs, against the reference
// outputs made with the same pre/post-processing (test/fixtures/reference/golden_outputs.json).
const golden = readGolden();
let catalog: Catalog;
beforeAll(async () => {
  catalog = await loadCatalog({ modelsDir: MODELS });
});

for (const [file, ref] of Object.entries(golden)) {
  const { model: modelName, variant } = GOLDEN_VARIANTS[file]!;
  describe(`${modelName}/${variant} matches ${file} references`, () => {
    let model: InferenceModel;
    beforeAll(async () => {
      model = await InferenceModel.load({ catalog, model: modelName, variant, session: { threads: 1 } });
      return () => model.dispose();
    });

    if (ref.kind === 'cls-imagenet') {
      const entries = Object.entries(ref.results) as Array<[string, string[]]>;
      // The PNG references reproduce exactly. The JPEG ones do not reproduce with any standard
      // resize of the decoded JPEG (while the YOLOX references on the same JPEGs match to the
      // third decimal), so the reference's classification path for JPEGs differed; see
      // docs/models.md. For those we require the reference's top-1 among our top 3, and the same
      // top-1 on at least 8 of the 11.
      const exact = entries.filter(([img]) => img.endsWith('.png'));
      const jpeg = entries.filter(([img]) => !img.endsWith('.png'));
      it.each(exact)('%s: same top-5 classes, scores within 0.05', async (img, expected) => {
        const result = await model.inferEncoded(fixtureImage(img));
        const ours = result.classes!;
        const refs = expected.map(parseGoldenClass);
        expect(ours.map((c) => c.classId)).toEqual(refs.map((r) => r.classId));
        for (const [i, r] of refs.entries())
          expect(Math.abs(ours[i]!.score - r.score)).toBeLessThanOrEqual(0.05);
      });
      it('JPEG photos: reference top-1 within our top 3, same top-1 on most', async () => {
        let sameTop1 = 0;
        for (const [img, expected] of jpeg) {
          const ours = (await model.inferEncoded(fixtureImage(img))).classes!;
          const refTop1 = parseGoldenClass(expected[0]!).classId;
          expect(
            ours.slice(0, 3).map((c) => c.classId),
            img,
          ).toContain(refTop1);
          if (ours[0]!.classId === refTop1) sameTop1++;
        }
        expect(sameTop1).toBeGreaterThanOrEqual(8);
      });
      return;
    }

    const entries = Object.entries(ref.results) as Array<[string, GoldenDetection[]]>;
    it.each(entries)('%s: same detections (IoU >= 0.9, score within 0.05)', async (img, expected) => {
      const result = await model.inferEncoded(fixtureImage(img));
      const ours = result.detections!;
      const sameClass = (classId: number, cls: number | string) =>
        typeof cls === 'number'
          ? classId === cls
          : result.detections !== undefined && cls === 'face' && classId === 1;
      for (const r of expected) {
        const match = ours.find((d) => sameClass(d.classId, r.cls) && boxIou(d.box, r.box) >= 0.9);
        expect(
          match,
          `${img}: reference ${JSON.stringify(r)} not found in ${JSON.stringify(ours)}`,
        ).toBeDefined();
        expect(Math.abs(match!.score - r.score)).toBeLessThanOrEqual(0.05);
      }
      for (const d of ours) {
        const match = expected.find((r) => sameClass(d.classId, r.cls) && boxIou(d.box, r.box) >= 0.9);
        expect(match, `${img}: extra detection ${JSON.stringify(d)}`).toBeDefined();
      }
    });
  });
}
