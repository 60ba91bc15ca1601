import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(REPO, 'test/fixtures');
export const IMAGES = path.join(FIXTURES, 'images');
export const MODELS = path.join(REPO, 'models');

/** Where a golden-output image name lives among the fixture images. */
export function fixtureImage(name: string): string {
  if (/^\d{12}\.jpg$/.test(name)) return path.join(IMAGES, 'coco_val2017', name);
  if (/^20\d\d_\d+\.jpg$/.test(name)) return path.join(IMAGES, 'voc', name);
  return path.join(IMAGES, 'skimage', name);
}
