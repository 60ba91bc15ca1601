// Test-only preload (`node --require test/helpers/isolate-probe.cjs ...`): every V8 isolate of the
// process — the main thread and each worker thread, since `--require` preloads run in workers too —
// writes a beat counter and its kind to $EA_ISOLATE_PROBE_DIR/<pid>-<threadId> every 100 ms while
// it lives, so a test can count the isolates alive in a real agent without a hook in it
// (test/helpers/isolates.ts). Kinds: 'main', 'worker' (a Worker the program started: it has a
// parentPort), 'loader' (Node's module customization hooks thread, which tsx's loader adds when
// the agent runs from TypeScript; a deployed dist/ has none).
// CommonJS on purpose: Node runs `--require` preloads in workers, `--import` ones only on main.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { isMainThread, parentPort, threadId } = require('node:worker_threads');

const dir = process.env.EA_ISOLATE_PROBE_DIR;
if (dir) {
  const file = path.join(dir, `${process.pid}-${threadId}`);
  const kind = isMainThread ? 'main' : parentPort ? 'worker' : 'loader';
  let beats = 0;
  const beat = () => {
    try {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify({ beats: ++beats, kind }));
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // the folder went away at the end of the test
    }
  };
  beat();
  setInterval(beat, 100).unref();
}
