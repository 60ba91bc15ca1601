// The child process that measures one candidate for the tuner (measure-process.ts): it opens one
// onnxruntime session, runs the bursts the parent asks for and reports its own peak memory. A
// candidate that crashes or runs out of memory takes only this process down, and the memory
// figure is this session's alone. It also measures fidelity for variants without a recorded one.
import { readFile } from 'node:fs/promises';
import type * as ort from 'onnxruntime-node';
import { capturedFrame } from '../camera/prepared.js';
import type { Frame } from '../camera/types.js';
import { errorMessage } from '../errors.js';
import { preprocess } from '../inference/preprocess.js';
import type { ExecutionProvider } from '../inference/session.js';
import { openSession } from '../inference/session.js';
import { sha256Hex } from '../models/integrity.js';
import type { InputSpec } from '../models/manifest.js';
import { TensorPreparer, targetFor } from '../pipeline/prepare.js';
import { isLean } from '../service/memory-env.js';
import type { BaselineNote, ChildAnswer, FrameInput, OpenJob, ParentMessage } from './measure-protocol.js';

const send = (message: ChildAnswer) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, undefined, () => resolve());
  });

/** A message the parent did not ask for (its memory watch's baseline); not awaited. */
const note = (message: BaselineNote) => process.send?.(message);

let session: ort.InferenceSession | undefined;
let ortModule: typeof ort | undefined;
let feeds: Record<string, ort.Tensor> = {};
let baselineRss = 0;

/** A frame as a capture process delivers it for the input, and the pipeline's preparer for it. */
interface Camera {
  frame: Frame;
  spec: InputSpec;
  preparer: TensorPreparer;
  inputName: string;
}
let camera: Camera | undefined;

/**
 * The job's frame scaled to the capture canvas of its input spec (`targetFor`): gbrp planes for
 * NCHW inputs, interleaved in the model's colour order otherwise — what the agent's capture process
 * hands its pipeline (docs/camera.md "Per-frame cost"). sharp loads in this process only.
 */
async function cameraFrame(input: FrameInput): Promise<Frame> {
  const { loadFrames } = await import('../optimize/evaluation/frames.js');
  const { framesDir, spec } = input;
  const frames = await loadFrames(framesDir ? { dir: framesDir } : undefined, { limit: 1 });
  const image = frames.images[0];
  if (!image) throw new Error('no frame to measure on');
  const target = targetFor(spec);
  // The canvas as RGB bytes (uint8 ignores the normalisation), then in the capture's pixel format.
  const canvas = await preprocess(image, { ...spec, dtype: 'uint8', layout: 'NHWC', colorOrder: 'RGB' });
  return capturedFrame(canvas.data as Uint8Array, target, image.width, image.height, 'tuner-measurement');
}

async function open(job: OpenJob): Promise<ChildAnswer> {
  // Before the baseline: the memory figure is the session's, not the frame decoder's.
  camera = undefined;
  let tensor: { data: Float32Array | Uint8Array; dims: readonly number[] } | undefined;
  let preparePath: string | undefined;
  if ('frame' in job.input) {
    const spec = job.input.frame.spec;
    camera = {
      frame: await cameraFrame(job.input.frame),
      spec,
      preparer: new TensorPreparer(),
      inputName: job.inputName,
    };
    // Once here: the pool's buffer exists before the baseline, as it does in a serving pipeline.
    const first = await camera.preparer.prepare(camera.frame, spec);
    preparePath = first.path;
    camera.preparer.release(first);
  } else tensor = job.input;
  ortModule = await import('onnxruntime-node');
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
  feeds = tensor ? { [job.inputName]: tensorOf(tensor.data, tensor.dims) } : {};
  const started = performance.now();
  for (let i = 0; i < job.warmupRuns; i++) await run();
  return {
    type: 'ready',
    sessionCreateMs: opened.createMs,
    warmupMs: performance.now() - started,
    ...(preparePath ? { preparePath } : {}),
    ...(isLean() ? { lean: true } : {}),
  };
}

function tensorOf(data: Float32Array | Uint8Array, dims: readonly number[]): ort.Tensor {
  return new ortModule!.Tensor(data instanceof Float32Array ? 'float32' : 'uint8', data, dims as number[]);
}

/** One frame's work: preparing it (as the pipeline does, when a frame was given), then `run`. */
async function run(): Promise<number> {
  if (!camera) {
    const out = await session!.run(feeds);
    for (const v of Object.values(out)) v.dispose();
    return 0;
  }
  const t = performance.now();
  const input = await camera.preparer.prepare(camera.frame, camera.spec);
  const prepareMs = performance.now() - t;
  try {
    const out = await session!.run({ [camera.inputName]: tensorOf(input.data, input.dims) });
    for (const v of Object.values(out)) v.dispose();
  } finally {
    camera.preparer.release(input);
  }
  return prepareMs;
}

async function burst(runs: number, budgetMs: number): Promise<ChildAnswer> {
  if (!session) throw new Error('no session open');
  const latenciesMs: number[] = [];
  let prepareMs = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  while (latenciesMs.length < runs && (latenciesMs.length === 0 || performance.now() - started < budgetMs)) {
    const t = performance.now();
    prepareMs += await run();
    latenciesMs.push(performance.now() - t);
  }
  const used = process.cpuUsage(cpu);
  return {
    type: 'burst',
    latenciesMs,
    prepareMs,
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
      camera = undefined;
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
