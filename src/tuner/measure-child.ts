// The child process that measures one candidate for the tuner (measure-process.ts): it opens one
// onnxruntime session, runs the bursts the parent asks for and reports its own peak memory. A
// candidate that crashes or runs out of memory takes only this process down, and the memory
// figure is this session's alone. It also measures fidelity for variants without a recorded one.
import { readFile } from 'node:fs/promises';
import type * as ort from 'onnxruntime-node';
import { errorMessage } from '../errors.js';
import type { ExecutionProvider } from '../inference/session.js';
import { openSession } from '../inference/session.js';
import { sha256Hex } from '../models/integrity.js';
import type { BaselineNote, ChildAnswer, OpenJob, ParentMessage } from './measure-protocol.js';

const send = (message: ChildAnswer) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });

/** A message the parent did not ask for (its memory watch's baseline); not awaited. */
const note = (message: BaselineNote) => process.send?.(message);

let session: ort.InferenceSession | undefined;
let feeds: Record<string, ort.Tensor> = {};
let baselineRss = 0;

/** The job's input tensor; a frame is read and prepared here (sharp loads in this process only). */
async function inputOf(job: OpenJob): Promise<{ data: Float32Array | Uint8Array; dims: readonly number[] }> {
  if (!('frame' in job.input)) return job.input;
  const { loadFrames, prepareInputs } = await import('../optimize/evaluation/frames.js');
  const { framesDir, spec } = job.input.frame;
  const frames = await loadFrames(framesDir ? { dir: framesDir } : undefined, { limit: 1 });
  const [prepared] = await prepareInputs(frames.images.slice(0, 1), spec);
  return { data: prepared!.data, dims: prepared!.dims };
}

async function open(job: OpenJob): Promise<ChildAnswer> {
  // Before the baseline: the memory figure is the session's, not the frame decoder's.
  const { data, dims } = await inputOf(job);
  const ortModule = await import('onnxruntime-node');
  baselineRss = process.memoryUsage().rss;
  note({ type: 'baseline', rssBytes: baselineRss });
  const bytes = await readFile(job.path);
  const actual = sha256Hex(bytes);
  if (bytes.length !== job.bytes || actual !== job.sha256)
    throw new Error(
      `${job.path}: sha256 mismatch (expected ${job.sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`,
    );
  const opened = await openSession(new Uint8Array(bytes), {
    threads: job.threads,
    executionProviders: [job.executionProvider as ExecutionProvider],
    graphOptimization: job.graphOptimization,
    allowSpinning: false,
  });
  if (opened.executionProvider !== job.executionProvider) {
    await opened.session.release();
    const why = opened.rejected.find((r) => r.provider === job.executionProvider)?.reason ?? 'refused';
    throw new Error(`execution provider ${job.executionProvider} refused the model: ${why}`);
  }
  session = opened.session;
  feeds = {
    [job.inputName]: new ortModule.Tensor(
      data instanceof Float32Array ? 'float32' : 'uint8',
      data,
      dims as number[],
    ),
  };
  const started = performance.now();
  for (let i = 0; i < job.warmupRuns; i++) await run();
  return { type: 'ready', sessionCreateMs: opened.createMs, warmupMs: performance.now() - started };
}

async function run(): Promise<void> {
  const out = await session!.run(feeds);
  for (const v of Object.values(out)) v.dispose();
}

async function burst(runs: number, budgetMs: number): Promise<ChildAnswer> {
  if (!session) throw new Error('no session open');
  const latenciesMs: number[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  while (latenciesMs.length < runs && (latenciesMs.length === 0 || performance.now() - started < budgetMs)) {
    const t = performance.now();
    await run();
    latenciesMs.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  return {
    type: 'burst',
    latenciesMs,
    cpuMs: (used.user + used.system) / 1000,
    wallMs: performance.now() - started,
  };
}

async function handle(message: ParentMessage): Promise<ChildAnswer> {
  switch (message.type) {
    case 'open':
      return open(message.job);
    case 'burst':
      return burst(message.runs, message.budgetMs);
    case 'finish': {
      await session?.release();
      session = undefined;
      return {
        type: 'finished',
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        baselineRssBytes: baselineRss,
      };
    }
    case 'fidelity': {
      const { loadCatalog } = await import('../models/catalog.js');
      const { measureFidelity } = await import('../optimize/evaluation/evaluation.js');
      const j = message.job;
      await import('onnxruntime-node');
      note({ type: 'baseline', rssBytes: process.memoryUsage().rss });
      const catalog = await loadCatalog({
        modelsDir: j.modelsDir,
        ...(j.dataDir ? { dataDir: j.dataDir } : {}),
      });
      const r = await measureFidelity(catalog, j.model, j.variant, {
        ...(j.framesDir ? { frames: { dir: j.framesDir } } : {}),
        ...(j.reference ? { reference: j.reference } : {}),
        limit: j.limit,
      });
      return { type: 'fidelity', fidelity: r.fidelity, metric: r.metric, frames: r.frames };
    }
  }
}

// One message at a time, in order.
let queue = Promise.resolve();
process.on('message', (message: ParentMessage) => {
  queue = queue.then(async () => {
    try {
      await send(await handle(message));
    } catch (err) {
      await send({ type: 'error', name: (err as Error)?.name ?? 'Error', message: errorMessage(err) });
    }
  });
});
process.on('disconnect', () => process.exit(0)); // the tuner is gone: nobody to measure for
