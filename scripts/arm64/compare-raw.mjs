// arm64-check: max absolute difference between x86 and arm64 raw outputs (raw-outputs.mjs), per
// model, relative to the output's range. Exit 1 when a model's outputs differ in shape or by more
// than 1e-3 of their range. Usage: node compare-raw.mjs X86_DIR ARM_DIR
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const [x86Dir, armDir] = process.argv.slice(2);
let bad = false;
for (const file of readdirSync(x86Dir)) {
  const a = JSON.parse(readFileSync(path.join(x86Dir, file), 'utf8'));
  const b = JSON.parse(readFileSync(path.join(armDir, file), 'utf8'));
  let maxDiff = 0;
  let range = 0;
  for (const [name, xs] of Object.entries(a)) {
    const ys = b[name];
    if (!ys || ys.length !== xs.length) {
      console.log(`${file}: output ${name} missing or of another size on arm64`);
      bad = true;
      continue;
    }
    for (let i = 0; i < xs.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(xs[i] - ys[i]));
      range = Math.max(range, Math.abs(xs[i]));
    }
  }
  const ok = maxDiff <= 1e-3 * Math.max(range, 1e-6);
  if (!ok) bad = true;
  console.log(
    `${path.basename(file, '.json')} max|x86-arm64| ${maxDiff.toExponential(2)} (max|x| ${range.toPrecision(3)})${ok ? '' : ' TOO LARGE'}`,
  );
}
process.exit(bad ? 1 : 0);
