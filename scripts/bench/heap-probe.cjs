// Bench-only preload (`node --require scripts/bench/heap-probe.cjs dist/cli.js run`): every isolate
// of the agent (the main thread and, because `--require` preloads reach worker threads, the
// inference worker) writes its V8 heap statistics to $EA_HEAP_PROBE_DIR/<threadId>.json once a
// second, so the memory-breakdown bench can split anonymous memory per isolate without a hook in
// the agent. Optional experiment knobs (measurement only, never for deployment):
//   EA_PROBE_ORT_OPTIONS='{"enableCpuMemArena":false}'  merged into every onnxruntime session's options
//   EA_PROBE_WORKER_YOUNG_MB=16                         the inference worker's maxYoungGenerationSizeMb
//   EA_PROBE_WORKER_OLD_MB=48                           the inference worker's maxOldGenerationSizeMb
//   EA_PROBE_WORKER_GC_MS=5000                          a forced full collection in the worker that often
// CommonJS on purpose: Node 20 runs `--require` preloads in workers, `--import` ones only on main.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const v8 = require('node:v8');
const wt = require('node:worker_threads');

const dir = process.env.EA_HEAP_PROBE_DIR;
if (dir) {
  const file = path.join(dir, `${wt.threadId}.json`);
  const write = () => {
    const heap = v8.getHeapStatistics();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]));
    const record = {
      thread: wt.isMainThread ? 'main' : 'worker',
      at: Date.now(),
      heap,
      spaces,
      ...(wt.isMainThread ? { process: process.memoryUsage() } : {}),
    };
    try {
      fs.writeFileSync(`${file}.tmp`, JSON.stringify(record));
      fs.renameSync(`${file}.tmp`, file);
    } catch {
      // the directory went away at the end of the run
    }
  };
  setInterval(write, 1000).unref();
}

if (process.env.EA_PROBE_ORT_OPTIONS && !wt.isMainThread) {
  const extra = JSON.parse(process.env.EA_PROBE_ORT_OPTIONS);
  const ort = require('onnxruntime-node');
  const create = ort.InferenceSession.create.bind(ort.InferenceSession);
  ort.InferenceSession.create = (model, ...rest) => {
    const options =
      typeof rest[0] === 'object' && rest[0] !== null && !ArrayBuffer.isView(rest[0]) ? rest[0] : {};
    return create(model, { ...options, ...extra });
  };
}

if ((process.env.EA_PROBE_WORKER_YOUNG_MB || process.env.EA_PROBE_WORKER_OLD_MB) && wt.isMainThread) {
  const limits = {
    ...(process.env.EA_PROBE_WORKER_YOUNG_MB
      ? { maxYoungGenerationSizeMb: Number(process.env.EA_PROBE_WORKER_YOUNG_MB) }
      : {}),
    ...(process.env.EA_PROBE_WORKER_OLD_MB
      ? { maxOldGenerationSizeMb: Number(process.env.EA_PROBE_WORKER_OLD_MB) }
      : {}),
  };
  const Original = wt.Worker;
  wt.Worker = class extends Original {
    constructor(script, options = {}) {
      super(script, { ...options, resourceLimits: { ...options.resourceLimits, ...limits } });
    }
  };
  require('node:module').syncBuiltinESMExports();
}

if (process.env.EA_PROBE_WORKER_GC_MS && !wt.isMainThread) {
  // The agent has no --expose-gc; a context made after setting the flag has `gc`.
  v8.setFlagsFromString('--expose-gc');
  const gc = require('node:vm').runInNewContext('gc');
  setInterval(() => gc(), Number(process.env.EA_PROBE_WORKER_GC_MS)).unref();
}
