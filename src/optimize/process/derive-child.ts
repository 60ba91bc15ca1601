// The child process that runs one derivation for the agent (see derive-process.ts). It receives
// one job over the IPC channel, reports progress and the result the same way, and exits: its
// memory (a YOLOX int8 calibration peaks near 250 MB; 600 MB before the groups of docs/memory.md) goes back to the system when it ends, and if
// the kernel kills it for memory, the agent serving the camera is not the one killed.
import { errorMessage } from '../../errors.js';
import { loadCatalog } from '../../models/catalog.js';
import { derive } from '../derive.js';
import type { ChildMessage, DeriveJob } from './derive-process.js';
import { deriveSummary } from './derive-process.js';

const send = (message: ChildMessage) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });

const controller = new AbortController();
process.on('SIGTERM', () => controller.abort());
process.on('disconnect', () => controller.abort()); // the agent is gone: stop working for nobody

/**
 * A full collection when the stage changes and at most every 500 ms within one: each step leaves a
 * session's outputs, an encoded candidate model or a histogram batch behind, and V8 — seeing a heap
 * that grows slowly — would collect it late, while onnxruntime's next session is already mapped. Measured
 * on YOLOX-nano int8-static: peak 252–261 MB without, 229–237 MB with; same bytes out (docs/memory.md,
 * "Nineteenth round"). `gc` exists because the parent starts this process with --expose-gc.
 */
let lastStage: string | undefined;
let lastCollect = 0;
function collectBetweenSteps(stage: string): void {
  const now = performance.now();
  if (stage === lastStage && now - lastCollect < 500) return;
  lastStage = stage;
  lastCollect = now;
  (globalThis as { gc?: () => void }).gc?.();
}

async function run(job: DeriveJob): Promise<void> {
  const catalog = await loadCatalog({ modelsDir: job.modelsDir, dataDir: job.dataDir });
  // Frames in memory arrive as Uint8Arrays (structured clone); sharp takes them as they are.
  const { calibration } = job;
  const result = await derive(catalog, job.model, job.method, job.params, {
    ...(job.source ? { source: job.source } : {}),
    ...(calibration ? { calibration } : {}),
    ...(job.threads !== undefined ? { threads: job.threads } : {}),
    ...(job.maxMemoryMB !== undefined ? { maxMemoryMB: job.maxMemoryMB } : {}),
    signal: controller.signal,
    onProgress: (p) => {
      collectBetweenSteps(p.stage);
      void send({ type: 'progress', progress: p });
    },
  });
  const peakRssMB = Math.round(process.resourceUsage().maxRSS / 1024);
  await send({ type: 'result', result: { ...deriveSummary(result), processPeakRssMB: peakRssMB } });
}

process.once('message', (message: { type: 'derive'; job: DeriveJob }) => {
  run(message.job)
    .catch(async (err) => {
      await send({ type: 'error', name: (err as Error)?.name ?? 'Error', message: errorMessage(err) });
      process.exitCode = 1;
    })
    .finally(() => process.disconnect?.());
});
