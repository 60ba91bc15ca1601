// arm64-check: compares one `infer --json` result from arm64 (emulated) with the x86 one.
// Classification: same top-1 class; detection: the same detections (class matched one to one,
// box IoU >= 0.9). Prints the max absolute difference of scores and box coordinates (pixels).
// Usage: node compare-infer.mjs X86.json ARM.json   (exit 1 when they disagree)
import { readFileSync } from 'node:fs';

const [x86, arm] = process.argv.slice(2).map((f) => JSON.parse(readFileSync(f, 'utf8')));
const iou = (a, b) => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  const union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
  return union > 0 ? inter / union : 0;
};
let maxScore = 0;
let maxBox = 0;
const problems = [];
if (x86.task === 'classification') {
  const [a, b] = [x86.classes[0], arm.classes[0]];
  if (a.classId !== b.classId) problems.push(`top-1 ${a.label} (x86) vs ${b.label} (arm64)`);
  const armById = new Map(arm.classes.map((c) => [c.classId, c.score]));
  for (const c of x86.classes) {
    if (armById.has(c.classId)) maxScore = Math.max(maxScore, Math.abs(c.score - armById.get(c.classId)));
  }
  if (problems.length === 0) {
    console.log(
      `top-1 "${a.label}" on both, max score difference ${maxScore.toExponential(2)} (at --json's rounding)`,
    );
  }
} else {
  const left = [...arm.detections];
  if (x86.detections.length !== arm.detections.length) {
    problems.push(`${x86.detections.length} detections on x86, ${arm.detections.length} on arm64`);
  }
  for (const d of x86.detections) {
    let best = -1;
    let bestIou = 0;
    for (const [i, e] of left.entries()) {
      const v = e.classId === d.classId ? iou(d.box, e.box) : 0;
      if (v > bestIou) [best, bestIou] = [i, v];
    }
    if (best < 0 || bestIou < 0.9) {
      problems.push(`x86 ${d.label} [${d.box.map(Math.round)}] has no match on arm64`);
      continue;
    }
    const e = left.splice(best, 1)[0];
    maxScore = Math.max(maxScore, Math.abs(d.score - e.score));
    for (const [i, v] of d.box.entries()) maxBox = Math.max(maxBox, Math.abs(v - e.box[i]));
  }
  if (problems.length === 0) {
    console.log(
      `${x86.detections.length} detections, same on both; max score difference ${maxScore.toExponential(2)}, max box difference ${maxBox.toFixed(3)} px (at --json's rounding)`,
    );
  }
}
if (problems.length > 0) {
  console.log(problems.join('; '));
  process.exit(1);
}
