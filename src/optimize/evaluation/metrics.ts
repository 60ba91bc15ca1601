/**
 * Pure fidelity metrics: a variant's outputs against its reference's (or against labels).
 * No I/O; tested with tables of cases.
 */

export interface Box {
  box: readonly [number, number, number, number];
  score: number;
  classId: number;
}

export function boxIou(a: Box['box'], b: Box['box']): number {
  const ix = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const iy = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
}

export interface DetectionMatch {
  /** Mean over ground-truth classes of the all-point interpolated AP at IoU ≥ threshold. */
  map: number;
  precision: number;
  recall: number;
  truePositives: number;
  falsePositives: number;
  groundTruth: number;
}

/**
 * mAP at an IoU threshold over several frames: predictions are matched greedily by score to
 * unmatched ground truth of the same class (the VOC/COCO rule). With no ground truth at all the
 * result is 1 when nothing was predicted either, else 0.
 */
export function detectionMatch(
  predicted: readonly Box[][],
  truth: readonly Box[][],
  iouThreshold = 0.5,
): DetectionMatch {
  const classes = new Set<number>();
  let groundTruth = 0;
  for (const frame of truth)
    for (const t of frame) {
      classes.add(t.classId);
      groundTruth++;
    }
  let tpAll = 0;
  let fpAll = 0;
  const apPerClass: number[] = [];
  const allClasses = new Set([...classes, ...predicted.flatMap((f) => f.map((p) => p.classId))]);
  for (const cls of [...allClasses].sort((a, b) => a - b)) {
    const preds: Array<{ frame: number; p: Box }> = [];
    predicted.forEach((f, frame) => {
      for (const p of f) if (p.classId === cls) preds.push({ frame, p });
    });
    preds.sort((a, b) => b.p.score - a.p.score || a.frame - b.frame);
    const used = truth.map((f) => f.map(() => false));
    const nGt = truth.reduce((n, f) => n + f.filter((t) => t.classId === cls).length, 0);
    const hits: boolean[] = [];
    for (const { frame, p } of preds) {
      let best = -1;
      let bestIou = iouThreshold;
      (truth[frame] ?? []).forEach((t, j) => {
        if (t.classId !== cls || used[frame]![j]) return;
        const iou = boxIou(p.box, t.box);
        if (iou >= bestIou) {
          bestIou = iou;
          best = j;
        }
      });
      if (best >= 0) used[frame]![best] = true;
      hits.push(best >= 0);
    }
    const tp = hits.filter((h) => h).length;
    tpAll += tp;
    fpAll += hits.length - tp;
    if (nGt > 0) apPerClass.push(averagePrecision(hits, nGt));
  }
  const map =
    groundTruth === 0
      ? tpAll + fpAll === 0
        ? 1
        : 0
      : apPerClass.reduce((a, b) => a + b, 0) / apPerClass.length;
  return {
    map,
    precision: tpAll + fpAll === 0 ? (groundTruth === 0 ? 1 : 0) : tpAll / (tpAll + fpAll),
    recall: groundTruth === 0 ? 1 : tpAll / groundTruth,
    truePositives: tpAll,
    falsePositives: fpAll,
    groundTruth,
  };
}

/** All-point interpolated average precision of a ranked hit list. */
export function averagePrecision(hits: readonly boolean[], groundTruth: number): number {
  if (groundTruth === 0) return 0;
  const precisions: number[] = [];
  const recalls: number[] = [];
  let tp = 0;
  hits.forEach((h, i) => {
    if (h) tp++;
    precisions.push(tp / (i + 1));
    recalls.push(tp / groundTruth);
  });
  let ap = 0;
  let prevRecall = 0;
  for (let i = 0; i < hits.length; i++) {
    if (!hits[i]) continue;
    let maxPrecision = 0;
    for (let j = i; j < hits.length; j++) maxPrecision = Math.max(maxPrecision, precisions[j]!);
    ap += (recalls[i]! - prevRecall) * maxPrecision;
    prevRecall = recalls[i]!;
  }
  return ap;
}

export interface ClassificationAgreement {
  top1Agreement: number;
  /** Mean fraction of the reference's top-5 classes also in the variant's top 5. */
  top5Overlap: number;
  /** Mean KL(reference ‖ variant) of the softmax distributions, nats. */
  meanKl: number;
}

export function classificationAgreement(
  reference: readonly Float64Array[],
  variant: readonly Float64Array[],
): ClassificationAgreement {
  let top1 = 0;
  let overlap = 0;
  let kl = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const v = variant[i]!;
    const rTop = topIndices(r, 5);
    const vTop = topIndices(v, 5);
    if (rTop[0] === vTop[0]) top1++;
    overlap += rTop.filter((c) => vTop.includes(c)).length / rTop.length;
    kl += klDivergence(r, v);
  }
  const n = Math.max(1, reference.length);
  return { top1Agreement: top1 / n, top5Overlap: overlap / n, meanKl: kl / n };
}

export function topIndices(values: ArrayLike<number>, k: number): number[] {
  return Array.from({ length: values.length }, (_, i) => i)
    .sort((a, b) => values[b]! - values[a]! || a - b)
    .slice(0, k);
}

export function klDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i]!;
    if (pi <= 0) continue;
    kl += pi * Math.log(pi / Math.max(q[i]!, 1e-12));
  }
  return Math.max(0, kl);
}

export interface OutputDifference {
  maxAbs: number;
  meanAbs: number;
}

/** Element-wise difference over all outputs of all frames. */
export function outputDifference(
  reference: readonly Float32Array[],
  variant: readonly Float32Array[],
): OutputDifference {
  let max = 0;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const v = variant[i]!;
    if (r.length !== v.length) return { maxAbs: Number.POSITIVE_INFINITY, meanAbs: Number.POSITIVE_INFINITY };
    for (let j = 0; j < r.length; j++) {
      const d = Math.abs(r[j]! - v[j]!);
      if (d > max || Number.isNaN(d)) max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      sum += d;
    }
    count += r.length;
  }
  return { maxAbs: max, meanAbs: count > 0 ? sum / count : 0 };
}
