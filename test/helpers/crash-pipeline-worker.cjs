// Test-only preload (`node --require test/helpers/crash-pipeline-worker.cjs ...`, run in every thread):
// the first pipeline worker of a run (a worker whose workerData names worker-main) throws an
// uncaught error $EA_CRASH_AFTER_MS ms after it starts — a bug in the worker's JavaScript, in a real
// agent without a hook in it. $EA_CRASH_MARKER, a file created exclusively, makes it the first only:
// the workers the agent starts after it run normally.
// CommonJS on purpose: Node runs `--require` preloads in workers, `--import` ones only on main.
'use strict';
const fs = require('node:fs');
const { isMainThread, workerData } = require('node:worker_threads');

const marker = process.env.EA_CRASH_MARKER;
const pipelineWorker =
  !isMainThread &&
  workerData &&
  typeof workerData.entry === 'string' &&
  workerData.entry.includes('worker-main');
if (marker && pipelineWorker) {
  let first = false;
  try {
    fs.writeFileSync(marker, String(process.pid), { flag: 'wx' });
    first = true;
  } catch {
    // a worker after the first
  }
  if (first) {
    const timer = setTimeout(
      () => {
        throw new Error('injected crash in the pipeline worker');
      },
      Number(process.env.EA_CRASH_AFTER_MS ?? '3000'),
    );
    timer.unref();
  }
}
