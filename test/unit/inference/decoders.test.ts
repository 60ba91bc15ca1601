import { describe, expect, it } from 'vitest';
import { type Candidate, iou, nms } from '../../../src/inference/decoders/nms.js';
import { softmax, topK } from '../../../src/inference/decoders/softmax.js';
import { decodeUltraface } from '../../../src/inference/decoders/ultraface.js';
import { decodeYolox } from '../../../src/inference/decoders/yolox.js';

const box = (x1: number, y1: number, x2: number, y2: number, score: number, classId = 0): Candidate => ({
  x1,
  y1,
  x2,
  y2,
  score,
  classId,
});

describe('nms', () => {
  it('computes IoU', () => {
    expect(iou(box(0, 0, 10, 10, 1), box(5, 0, 15, 10, 1))).toBeCloseTo(50 / 150);
    expect(iou(box(0, 0, 10, 10, 1), box(20, 20, 30, 30, 1))).toBe(0);
  });

  it('keeps the best of overlapping boxes, per class unless agnostic', () => {
    const c = [
      box(0, 0, 10, 10, 0.6, 1),
      box(1, 0, 11, 10, 0.9, 1),
      box(0, 0, 10, 10, 0.5, 2),
      box(50, 50, 60, 60, 0.4, 1),
    ];
    expect(nms(c, 0.45, false, 10).map((k) => k.score)).toEqual([0.9, 0.5, 0.4]);
    expect(nms(c, 0.45, true, 10).map((k) => k.score)).toEqual([0.9, 0.4]);
    expect(nms(c, 0.45, false, 1)).toHaveLength(1);
  });
});

describe('softmax and topK', () => {
  it('normalises and orders', () => {
    const p = softmax([1, 3, 2, 1000]);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 10);
    expect(Number.isFinite(p[3])).toBe(true);
    expect(topK([0.1, 0.5, 0.3, 0.5], 3)).toEqual([1, 3, 2]);
  });
});

describe('decodeYolox', () => {
  // 4×4 input, one stride of 2 → a 2×2 grid, 2 classes: rows of 7 values.
  const rows = (cells: number[][]) => Float32Array.from(cells.flat());
  const params = { inputWidth: 4, inputHeight: 4, strides: [2], scoreThreshold: 0.3 };

  it('decodes grid offsets, sizes and obj × class score', () => {
    const out = rows([
      [0, 0, 0, 0, 0.1, 0.9, 0.1], // obj too low
      [0.5, 0.5, Math.log(2), 0, 0.9, 0.2, 0.8], // cell (1,0): cx = (0.5+1)*2 = 3, w = 4, h = 2
      [0, 0, 0, 0, 0.5, 0.5, 0.5], // 0.25 < threshold
      [0, 0, 0, 0, 0, 0, 0],
    ]);
    const [c, ...rest] = decodeYolox(out, 7, params);
    expect(rest).toHaveLength(0);
    expect(c!.classId).toBe(1);
    expect(c!.score).toBeCloseTo(0.72, 5);
    expect([c!.x1, c!.y1, c!.x2, c!.y2].map((v) => Number(v.toFixed(4)))).toEqual([1, 0, 5, 2]);
  });

  it('refuses an output that does not fit the grids', () => {
    expect(() => decodeYolox(new Float32Array(7 * 3), 7, params)).toThrow(/rows/);
  });
});

describe('decodeUltraface', () => {
  it('keeps faces above the threshold in input pixels', () => {
    const scores = Float32Array.from([0.9, 0.1, 0.2, 0.8]);
    const boxes = Float32Array.from([0, 0, 0.5, 0.5, 0.25, 0.5, 0.5, 1]);
    expect(decodeUltraface(scores, boxes, 320, 240, 0.7)).toEqual([
      { x1: 80, y1: 120, x2: 160, y2: 240, score: expect.closeTo(0.8, 5), classId: 1 },
    ]);
    expect(() => decodeUltraface(scores, boxes.subarray(0, 4), 320, 240, 0.7)).toThrow(/disagree/);
  });
});
