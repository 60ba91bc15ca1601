// `npm run build` step: copies the files tsc does not emit (the inference worker script, the
// dashboard's static files) next to the compiled modules, so dist/ runs on its own (Dockerfile).
import { cpSync } from 'node:fs';

for (const [from, to] of [
  ['src/inference/session-worker.mjs', 'dist/inference/session-worker.mjs'],
  ['src/http/public', 'dist/http/public'],
]) {
  cpSync(from, to, { recursive: true });
  console.log(`copied ${from} -> ${to}`);
}
