// `npm run build` step: copies the files tsc does not emit (the inference and pipeline worker
// scripts, the dashboard's static files) next to the compiled modules, so dist/ runs on its own (Dockerfile).
// Usage: node scripts/copy-build-assets.mjs [DIST] (default: the repository's dist/).
import { cpSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dist = path.resolve(process.argv[2] ?? path.join(root, 'dist'));

for (const [from, to] of [
  ['src/inference/session-worker.mjs', 'inference/session-worker.mjs'],
  ['src/inference/serve-session.mjs', 'inference/serve-session.mjs'],
  ['src/inference/float16.mjs', 'inference/float16.mjs'],
  ['src/pipeline/remote/boot.mjs', 'pipeline/remote/boot.mjs'],
  ['src/http/public', 'http/public'],
]) {
  cpSync(path.join(root, from), path.join(dist, to), { recursive: true });
  console.log(`copied ${from} -> ${path.relative(root, path.join(dist, to))}`);
}
