import { describe, expect, it } from 'vitest';
import {
  averagePrecision,
  type Box,
  classificationAgreement,
  detectionMatch,
  outputDifference,
} from '../../../../src/optimize/evaluation/metrics.js';

const box = (x: number, classId = 0, score = 0.9): Box => ({ box: [x, 0, x + 10, 10], score, classId });

describe('detectionMatch', () => {
  it('is perfect when the variant finds exactly the reference boxes', () => {
    const truth = [[box(0), box(20, 1)], [box(50)]];
    const m = detectionMatch(truth, truth);
    expect(m).toMatchObject({ map: 1, precision: 1, recall: 1, truePositives: 3, falsePositives: 0 });
  });

  it('counts a missed box against recall and AP, an extra box against precision', () => {
    const truth = [[box(0), box(100)]];
    const predicted = [[box(0), box(300, 0, 0.95)]];
    const m = detectionMatch(predicted, truth);
    expect(m.recall).toBe(0.5);
    expect(m.precision).toBe(0.5);
    // Ranked: false positive (0.95) then hit (0.9): precision at the hit is 1/2, recall 1/2.
    expect(m.map).toBeCloseTo(0.25, 6);
  });

  it('needs the same class and IoU ≥ 0.5', () => {
    const truth = [[box(0, 1)]];
    expect(detectionMatch([[box(0, 2)]], truth).recall).toBe(0);
    expect(detectionMatch([[box(6, 1)]], truth).recall).toBe(0); // IoU 4/16
    expect(detectionMatch([[box(2, 1)]], truth).recall).toBe(1); // IoU 8/12
  });

  it('scores an empty reference as 1 only when the variant is empty too', () => {
    expect(detectionMatch([[]], [[]]).map).toBe(1);
    expect(detectionMatch([[box(0)]], [[]]).map).toBe(0);
  });
});

describe('averagePrecision', () => {
  it('is the all-point interpolated area', () => {
    expect(averagePrecision([true, true], 2)).toBe(1);
    expect(averagePrecision([true, false, true], 2)).toBeCloseTo(0.5 + 0.5 * (2 / 3), 6);
    expect(averagePrecision([], 3)).toBe(0);
  });
});

describe('classificationAgreement', () => {
  it('measures top-1 agreement, top-5 overlap and KL', () => {
    const a = Float64Array.from([0.6, 0.2, 0.1, 0.05, 0.03, 0.02]);
    const b = Float64Array.from([0.2, 0.6, 0.1, 0.05, 0.03, 0.02]);
    const same = classificationAgreement([a], [a]);
    expect(same).toEqual({ top1Agreement: 1, top5Overlap: 1, meanKl: 0 });
    const diff = classificationAgreement([a, a], [a, b]);
    expect(diff.top1Agreement).toBe(0.5);
    expect(diff.top5Overlap).toBe(1);
    expect(diff.meanKl).toBeGreaterThan(0);
  });
});

describe('outputDifference', () => {
  it('reports max and mean absolute difference', () => {
    const d = outputDifference([Float32Array.from([1, 2, 3])], [Float32Array.from([1, 2.5, 2])]);
    expect(d.maxAbs).toBe(1);
    expect(d.meanAbs).toBeCloseTo(0.5, 6);
  });
});
