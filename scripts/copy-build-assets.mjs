// `npm run build` step: copies the files tsc does not emit (the inference and pipeline worker
// scripts, the dashboard's static files) next to the compiled modules, so dist/ runs on its own (Dockerfile).
import { cpSync } from 'node:fs';

for (const [from, to] of [
  ['src/inference/session-worker.mjs', 'dist/inference/session-worker.mjs'],
  ['src/inference/serve-session.mjs', 'dist/inference/serve-session.mjs'],
  ['src/pipeline/remote/boot.mjs', 'dist/pipeline/remote/boot.mjs'],
  ['src/http/public', 'dist/http/public'],
]) {
  cpSync(from, to, { recursive: true });
  console.log(`copied ${from} -> ${to}`);
}
