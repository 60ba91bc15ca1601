/** A candidate box in model-input pixels before mapping back to the image. */
export interface Candidate {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  score: number;
  classId: number;
}

export function iou(a: Candidate, b: Candidate): number {
  const ix = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const iy = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression: highest score first, drop boxes overlapping a kept one by more
 * than `iouThreshold` (only within the same class unless class-agnostic).
 */
export function nms(
  candidates: Candidate[],
  iouThreshold: number,
  classAgnostic: boolean,
  maxKeep: number,
): Candidate[] {
  const sorted = [...candidates].sort((p, q) => q.score - p.score);
  const kept: Candidate[] = [];
  for (const c of sorted) {
    if (kept.length >= maxKeep) break;
    let suppressed = false;
    for (const k of kept) {
      if ((classAgnostic || k.classId === c.classId) && iou(k, c) > iouThreshold) {
        suppressed = true;
        break;
      }
    }
    if (!suppressed) kept.push(c);
  }
  return kept;
}
