import type { Candidate } from './nms.js';

/**
 * UltraFace outputs: scores [1, N, 2] (background, face; softmaxed) and boxes [1, N, 4]
 * (x1, y1, x2, y2 normalised 0..1, already decoded from priors). Returns faces above the
 * threshold in model-input pixels (class 1, "face").
 */
export function decodeUltraface(
  scores: Float32Array,
  boxes: Float32Array,
  inputWidth: number,
  inputHeight: number,
  scoreThreshold: number,
): Candidate[] {
  const n = scores.length / 2;
  if (boxes.length !== n * 4)
    throw new Error(`ultraface outputs disagree: ${n} scores, ${boxes.length / 4} boxes`);
  const out: Candidate[] = [];
  for (let i = 0; i < n; i++) {
    const score = scores[2 * i + 1]!;
    if (score <= scoreThreshold) continue;
    out.push({
      x1: boxes[4 * i]! * inputWidth,
      y1: boxes[4 * i + 1]! * inputHeight,
      x2: boxes[4 * i + 2]! * inputWidth,
      y2: boxes[4 * i + 3]! * inputHeight,
      score,
      classId: 1,
    });
  }
  return out;
}
