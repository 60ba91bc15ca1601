import type { Candidate } from './nms.js';

export interface YoloxParams {
  inputWidth: number;
  inputHeight: number;
  strides: readonly number[];
  scoreThreshold: number;
}

/**
 * YOLOX head output [1, anchors, 5 + classes]: rows are [dx, dy, log w, log h, obj, cls...] over
 * the stride grids in order (52², 26², 13² for 416 input). obj and cls are already sigmoided.
 * Returns candidates in input pixels with score = obj × best class.
 */
export function decodeYolox(output: Float32Array, rowLength: number, p: YoloxParams): Candidate[] {
  const numClasses = rowLength - 5;
  const candidates: Candidate[] = [];
  let row = 0;
  const rows = output.length / rowLength;
  for (const stride of p.strides) {
    const gw = Math.floor(p.inputWidth / stride);
    const gh = Math.floor(p.inputHeight / stride);
    for (let gy = 0; gy < gh; gy++) {
      for (let gx = 0; gx < gw; gx++, row++) {
        if (row >= rows) throw new Error(`yolox output has ${rows} rows, fewer than the grids need`);
        const o = row * rowLength;
        const obj = output[o + 4]!;
        if (obj < p.scoreThreshold) continue; // obj × cls ≤ obj, so nothing here can pass
        let best = 0;
        let bestScore = -1;
        for (let c = 0; c < numClasses; c++) {
          const s = output[o + 5 + c]!;
          if (s > bestScore) {
            bestScore = s;
            best = c;
          }
        }
        const score = obj * bestScore;
        if (score < p.scoreThreshold) continue;
        const cx = (output[o]! + gx) * stride;
        const cy = (output[o + 1]! + gy) * stride;
        const w = Math.exp(output[o + 2]!) * stride;
        const h = Math.exp(output[o + 3]!) * stride;
        candidates.push({
          x1: cx - w / 2,
          y1: cy - h / 2,
          x2: cx + w / 2,
          y2: cy + h / 2,
          score,
          classId: best,
        });
      }
    }
  }
  if (row !== rows)
    throw new Error(`yolox output has ${rows} rows, grids for strides ${p.strides.join('/')} give ${row}`);
  return candidates;
}
