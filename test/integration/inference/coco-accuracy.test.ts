import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InferenceModel } from '../../../src/inference/model.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { boxIou } from '../../helpers/golden.js';
import { IMAGES, MODELS } from '../../helpers/paths.js';

interface CocoSubset {
  images: Array<{ id: number; file_name: string }>;
  annotations: Array<{
    image_id: number;
    category_id: number;
    bbox: [number, number, number, number];
    iscrowd: number;
  }>;
  categories: Array<{ id: number; name: string }>;
}

describe('yolox-nano on the COCO val2017 subset', () => {
  it('finds at least 34 of the 76 non-crowd boxes (IoU >= 0.5, right class)', async () => {
    const dir = path.join(IMAGES, 'coco_val2017');
    const coco = JSON.parse(
      readFileSync(path.join(dir, 'instances_val2017_subset.json'), 'utf8'),
    ) as CocoSubset;
    // COCO category ids are sparse (1..90); the model's 80 classes are them in ascending order.
    const classOfCategory = new Map(
      [...coco.categories].sort((a, b) => a.id - b.id).map((c, i) => [c.id, i]),
    );
    const catalog = await loadCatalog({ modelsDir: MODELS });
    const model = await InferenceModel.load({ catalog, model: 'yolox-nano', session: { threads: 2 } });
    let truePositives = 0;
    let groundTruth = 0;
    let falsePositives = 0;
    try {
      for (const image of coco.images) {
        const gts = coco.annotations
          .filter((a) => a.image_id === image.id && a.iscrowd === 0)
          .map((a) => ({
            classId: classOfCategory.get(a.category_id)!,
            box: [a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]],
            matched: false,
          }));
        groundTruth += gts.length;
        const { detections } = await model.inferEncoded(path.join(dir, image.file_name));
        for (const d of detections!) {
          let best: (typeof gts)[number] | undefined;
          let bestIou = 0.5;
          for (const gt of gts) {
            const iou = boxIou(d.box, gt.box);
            if (!gt.matched && gt.classId === d.classId && iou >= bestIou) {
              best = gt;
              bestIou = iou;
            }
          }
          if (best) {
            best.matched = true;
            truePositives++;
          } else falsePositives++;
        }
      }
    } finally {
      await model.dispose();
    }
    expect(groundTruth).toBe(76);
    expect(truePositives).toBeGreaterThanOrEqual(34);
    // Sanity: the detector is not winning by spraying boxes.
    expect(falsePositives).toBeLessThan(truePositives);
  });
});
