// Entry of the pipeline worker (src/pipeline/remote/): imports the module named in workerData.entry.
// Plain JavaScript so it starts the same way everywhere: in dist/ the entry is compiled JavaScript;
// under tsx or vitest it is TypeScript, which plain Node only loads once tsx's loader is
// registered in this thread (a worker started from vitest does not inherit one). Node ≥ 22.18/23.6
// strips types itself, so there the .ts entry loads but its `.js` specifiers (which name .ts files)
// are not found: that also means "register tsx and retry".
import { workerData } from 'node:worker_threads';

try {
  await import(workerData.entry);
} catch (err) {
  const retry = err?.code === 'ERR_UNKNOWN_FILE_EXTENSION' || err?.code === 'ERR_MODULE_NOT_FOUND';
  if (!workerData.entry.endsWith('.ts') || !retry) throw err;
  const { register } = await import('tsx/esm/api');
  register();
  // A failed import stays cached under its URL: the query makes it a new one.
  await import(`${workerData.entry}?tsx`);
}
