// arm64-check: one line from `derive --json` (fidelity of the int8 variant made with ARM's kernels).
// Usage: node derive-summary.mjs DERIVE.json   (exit 1 when there is no fidelity figure)
import { readFileSync } from 'node:fs';

const r = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const f = r.fidelity;
if (!f || typeof f.fidelity !== 'number') {
  console.log('no fidelity in the derive output');
  process.exit(1);
}
const c = f.classification;
console.log(
  `${r.model} ${r.method} -> ${r.variant?.id ?? r.variant}: fidelity ${f.fidelity.toFixed(3)} (${f.metric}, ${f.frames} frames)` +
    (c ? `, top-5 overlap ${c.top5Overlap.toFixed(3)}` : '') +
    `, output difference max ${f.output.maxAbsDiff.toExponential(2)} mean ${f.output.meanAbsDiff.toExponential(2)}`,
);
