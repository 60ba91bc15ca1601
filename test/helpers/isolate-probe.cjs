// Test-only preload (`node --require test/helpers/isolate-probe.cjs ...`): every V8 isolate of the
// process — the main thread and each worker thread, since `--require` preloads run in workers too —
// writes a beat counter and its kind to $EA_ISOLATE_PROBE_DIR/<pid>-<threadId> every 100 ms while
// it lives, so a test can count the isolates alive in a real agent without a hook in it
// (test/helpers/isolates.ts). Kinds: 'main', 'worker' (a Worker the program started), 'loader'
// (Node's module customization hooks thread, which tsx's loader adds when the agent runs from
// TypeScript; a deployed dist/ has none).
// CommonJS on purpose: Node runs `--require` preloads in workers, `--import` ones only on main.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { isMainThread, parentPort, threadId, workerData } = require('node:worker_threads');

const dir = process.env.EA_ISOLATE_PROBE_DIR;
if (dir) {
  const file = path.join(dir, `${process.pid}-${threadId}`);
  // Node's module customization hooks thread has no parentPort on Node 20; on Node 24 it has one,
  // and its workerData carries the hooks' `workerPort`.
  const hooks = !parentPort || (workerData && typeof workerData === 'object' && 'workerPort' in workerData);
  const kind = isMainThread ? 'main' : hooks ? 'loader' : 'worker';
  // What started it, for a failing test's message: the keys of its workerData.
  const data =
    workerData && typeof workerData === 'object' ? Object.keys(workerData).join(',') : typeof workerData;
  let beats = 0;
  const beat = () => {
    try {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify({ beats: ++beats, kind, data }));
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // the folder went away at the end of the test
    }
  };
  beat();
  setInterval(beat, 100).unref();
}
