// The camera pipeline's figures (issue 5), in one process and one run so ratios are comparable:
//   - agent throughput ÷ a bare `run` loop on the same session (target ≥ 0.95),
//   - per-frame JavaScript work (prepare + postprocess) p50/p95 (target ≤ 1 ms p50),
//   - event-loop lag p99 while inferring, RSS after N minutes vs after 1 minute,
//   - the preprocessing options: sharp vs ffmpeg scale/pad + JS fill vs a uint8 NHWC variant.
// Alone: `npm run bench:pipeline [-- --quick] [-- --rss-minutes 10] [-- --threads N]`.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createSource } from '../../src/camera/index.js';
import type { Frame } from '../../src/camera/types.js';
import { parseConfig } from '../../src/config/index.js';
import { InferenceModel } from '../../src/inference/model.js';
import { postprocess } from '../../src/inference/postprocess.js';
import { WorkerModel } from '../../src/inference/worker-model.js';
import { silentLogger } from '../../src/log.js';
import { loadCatalog } from '../../src/models/catalog.js';
import { effectiveInputSpec, type InputSpec } from '../../src/models/manifest.js';
import { packageRoot } from '../../src/paths.js';
import { type FrameResult, Pipeline } from '../../src/pipeline/pipeline.js';
import { TensorPreparer, targetFor } from '../../src/pipeline/prepare.js';
import { markdownTable, percentile, round } from './stats.js';

export interface PipelineBenchOptions {
  quick?: boolean;
  /** Length of the memory run; RSS is compared at 1 minute (or half-way when shorter) and at the end. */
  rssMinutes?: number;
  threads?: number;
  model?: string;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 640×480 H.264 video of the sample photographs, as a USB camera would deliver them. */
function makeVideo(dir: string): string {
  const out = path.join(dir, 'samples-640x480.mp4');
  execFileSync('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-framerate',
    '2',
    '-pattern_type',
    'glob',
    '-i',
    path.join(packageRoot(), 'samples', '*.jpg'),
    '-vf',
    'scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2,format=yuv420p',
    '-r',
    '30',
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-g',
    '30',
    out,
  ]);
  return out;
}

/** The first `count` frames of the video, plain RGB or scaled by ffmpeg for `spec`. */
async function grabFrames(video: string, count: number, spec?: InputSpec): Promise<Frame[]> {
  const source = createSource(
    parseConfig({ camera: { source: `file:${video}`, realtime: false, loop: true } }).camera,
    {
      log: silentLogger(),
    },
  );
  if (spec) source.setTarget(targetFor(spec));
  const frames: Frame[] = [];
  for await (const f of source.frames()) {
    frames.push(f);
    if (frames.length >= count) break;
  }
  return frames;
}

function summary(values: number[], digits = 3) {
  return {
    p50: round(percentile(values, 50), digits),
    p95: round(percentile(values, 95), digits),
    n: values.length,
  };
}

export async function benchPipeline(
  options: PipelineBenchOptions = {},
): Promise<{ json: unknown; markdown: string }> {
  const quick = options.quick ?? false;
  const log = options.log ?? (() => {});
  const threads = options.threads ?? 2;
  const rounds = quick ? 1 : 3;
  const phaseS = quick ? 5 : 10;
  const rssMinutes = options.rssMinutes ?? (quick ? 0.5 : 2);
  const root = packageRoot();
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-pipeline-'));
  try {
    const video = makeVideo(dir);
    const catalog = await loadCatalog({ modelsDir: path.join(root, 'models') });
    const modelName = options.model ?? 'yolox-nano';
    // The agent's model (session in a worker thread) and the baseline: the same variant and threads
    // in an in-process session, called back to back.
    // Session options as the agent sets them (no spinning: capture and the event loop share the cores).
    const session = { threads, allowSpinning: false };
    const model = await WorkerModel.load({ catalog, model: modelName, session });
    const bareModel = await InferenceModel.load({ catalog, model: modelName, session });
    const spec = model.input;
    log(`pipeline: ${modelName}/${model.variant.id}, ${threads} threads, ${rounds} round(s) of ${phaseS} s`);

    // 1. Preprocessing options, each on the same 30 frames, nothing else running.
    const plain = await grabFrames(video, 30);
    const prepared = await grabFrames(video, 30, spec);
    const preparer = new TensorPreparer();
    const timeEach = async (frames: Frame[], s: InputSpec) => {
      const ms: number[] = [];
      for (const f of frames) {
        const t0 = performance.now();
        const p = await preparer.prepare(f, s);
        ms.push(performance.now() - t0);
        preparer.release(p);
      }
      return ms;
    };
    await timeEach(plain.slice(0, 3), spec); // warm up sharp and the JIT
    const sharpMs = await timeEach(plain, spec);
    const fillMs = await timeEach(prepared, spec);
    const uint8Spec: InputSpec = { ...spec, dtype: 'uint8', layout: 'NHWC' };
    const zeroCopyMs = await timeEach(prepared, uint8Spec);
    const uint8Variant = catalog
      .model(modelName)
      .variants.find((v) => effectiveInputSpec(catalog.model(modelName).manifest.input, v).dtype === 'uint8');
    const postMs: number[] = [];
    for (const f of prepared.slice(0, 15)) {
      const p = await preparer.prepare(f, spec);
      const outputs = await model.run(p);
      const t0 = performance.now();
      postprocess(model.decoder, outputs, spec, p.inverse, model.labels);
      postMs.push(performance.now() - t0);
      preparer.release(p);
    }

    // 2. Throughput: bare run loop vs the agent (ffmpeg-scaled frames, and sharp), interleaved.
    const input = await preparer.prepare(prepared[0]!, spec);
    const bareLoop = async () => {
      let n = 0;
      const until = performance.now() + phaseS * 1000;
      while (performance.now() < until) {
        await bareModel.run(input);
        n++;
      }
      return n / phaseS;
    };
    const workerLoop = async () => {
      let n = 0;
      let data = input.data;
      const until = performance.now() + phaseS * 1000;
      while (performance.now() < until) {
        await model.run({ data, dims: input.dims }, (d) => {
          data = d;
        });
        n++;
      }
      input.data = data;
      return n / phaseS;
    };
    const agentRun = async (
      scaleInCapture: boolean,
      seconds: number,
      onSample?: (elapsedS: number) => void,
    ) => {
      const config = parseConfig({
        camera: { source: `file:${video}`, realtime: false, loop: true, scaleInCapture },
      });
      const source = createSource(config.camera, { log: silentLogger() });
      const pipeline = new Pipeline({
        source,
        model,
        pacing: { mode: 'continuous' },
        maxFrameAgeMs: 1000,
        scaleInCapture,
        log: silentLogger(),
      });
      const results: FrameResult[] = [];
      let counting = false;
      pipeline.onResult((r) => {
        if (counting) results.push(r);
      });
      pipeline.start();
      await sleep(1500); // ffmpeg start-up, warm-up
      counting = true;
      const elu0 = performance.eventLoopUtilization();
      const t0 = performance.now();
      for (let s = 1; s <= seconds; s++) {
        await sleep(1000);
        onSample?.(s);
      }
      counting = false;
      const wallMs = performance.now() - t0;
      const elu = performance.eventLoopUtilization(elu0);
      const stats = pipeline.stats();
      await pipeline.stop();
      return {
        fps: (results.length * 1000) / wallMs,
        jsMs: results.map((r) => r.timings.preprocessMs + r.timings.postprocessMs),
        preMs: results.map((r) => r.timings.preprocessMs),
        busyMsPerFrame: elu.active / Math.max(1, results.length),
        lagP99Ms: stats.eventLoopLag.p99Ms,
        path: stats.preparePath,
        dropped: stats.counters.dropped,
      };
    };
    const ratios: number[] = [];
    const sharpRatios: number[] = [];
    const bare: number[] = [];
    const bareWorker: number[] = [];
    const agent: Awaited<ReturnType<typeof agentRun>>[] = [];
    const agentSharp: Awaited<ReturnType<typeof agentRun>>[] = [];
    await bareLoop(); // warm-up
    for (let r = 0; r < rounds; r++) {
      const b = await bareLoop();
      bareWorker.push(await workerLoop());
      const a = await agentRun(true, phaseS);
      const s = await agentRun(false, phaseS);
      bare.push(b);
      agent.push(a);
      agentSharp.push(s);
      ratios.push(a.fps / b);
      sharpRatios.push(s.fps / b);
      log(
        `round ${r + 1}: bare ${b.toFixed(1)}/s, agent ${a.fps.toFixed(1)}/s (${a.path}), agent with sharp ${s.fps.toFixed(1)}/s`,
      );
    }
    preparer.release(input);

    // 3. Memory over a longer run (as fast as possible, ffmpeg-scaled frames).
    const rssSamples: Array<{ minute: number; rssMB: number }> = [];
    const firstAtS = Math.min(60, (rssMinutes * 60) / 2);
    log(`memory run: ${rssMinutes} min`);
    await agentRun(true, Math.round(rssMinutes * 60), (s) => {
      if (s === Math.round(firstAtS) || s % 30 === 0 || s === Math.round(rssMinutes * 60)) {
        rssSamples.push({ minute: round(s / 60, 2), rssMB: round(process.memoryUsage().rss / 2 ** 20, 1) });
      }
    });
    await model.dispose();
    await bareModel.dispose();

    const allJs = agent.flatMap((a) => a.jsMs);
    const median = (v: number[]) => percentile(v, 50);
    const first = rssSamples.find((x) => x.minute >= firstAtS / 60) ?? rssSamples[0]!;
    const last = rssSamples[rssSamples.length - 1]!;
    const json = {
      model: `${modelName}/${model.variant.id}`,
      threads,
      video: '640x480 H.264, 30 fps, read as fast as possible (lossless: ffmpeg paused by backpressure)',
      throughput: {
        bareRunPerS: round(median(bare), 1),
        bareWorkerRunPerS: round(median(bareWorker), 1),
        agentFps: round(median(agent.map((a) => a.fps)), 1),
        agentSharpFps: round(median(agentSharp.map((a) => a.fps)), 1),
        ratio: round(median(ratios), 3),
        ratioPerRound: ratios.map((x) => round(x, 3)),
        sharpRatio: round(median(sharpRatios), 3),
      },
      jsWorkPerFrameMs: summary(allJs),
      eventLoopBusyMsPerFrame: round(median(agent.map((a) => a.busyMsPerFrame)), 3),
      eventLoopLagP99Ms: round(Math.max(...agent.map((a) => a.lagP99Ms)), 2),
      preprocessOptionsMs: {
        sharp: summary(sharpMs),
        ffmpegScaleJsFill: summary(fillMs),
        ffmpegScaleUint8ZeroCopy: summary(zeroCopyMs),
        uint8VariantInCatalog: uint8Variant?.id ?? null,
      },
      postprocessMs: summary(postMs),
      rss: {
        samples: rssSamples,
        firstMinute: first,
        end: last,
        growthMB: round(last.rssMB - first.rssMB, 1),
      },
    };
    const pass = (ok: boolean) => (ok ? 'yes' : 'no');
    const markdown = [
      `${json.model}, ${threads} intra-op threads, ${json.video}; ${rounds} interleaved round(s) of ${phaseS} s.`,
      '',
      markdownTable(
        ['figure', 'measured', 'target', 'met'],
        [
          [
            'agent ÷ bare `run` loop (median of rounds)',
            `${json.throughput.ratio} (${json.throughput.agentFps} vs ${json.throughput.bareRunPerS}/s)`,
            '≥ 0.95',
            pass(json.throughput.ratio >= 0.95),
          ],
          [
            'JS work per frame (prepare + postprocess) p50 / p95',
            `${json.jsWorkPerFrameMs.p50} / ${json.jsWorkPerFrameMs.p95} ms`,
            '≤ 1 ms p50',
            pass(json.jsWorkPerFrameMs.p50 <= 1),
          ],
          ['event-loop busy time per frame (all JS, ELU)', `${json.eventLoopBusyMsPerFrame} ms`, '', ''],
          ['bare `run` loop through the inference worker', `${json.throughput.bareWorkerRunPerS}/s`, '', ''],
          [
            'event-loop lag p99 while inferring',
            `${json.eventLoopLagP99Ms} ms`,
            '< 20 ms',
            pass(json.eventLoopLagP99Ms < 20),
          ],
          [
            `RSS at ${first.minute} min → ${last.minute} min`,
            `${first.rssMB} → ${last.rssMB} MB (${json.rss.growthMB >= 0 ? '+' : ''}${json.rss.growthMB} MB)`,
            'no growth',
            pass(json.rss.growthMB < 10),
          ],
        ],
      ),
      '',
      'Preprocessing options (one 640×480 frame to the model tensor, main-thread wall time):',
      '',
      markdownTable(
        ['option', 'p50 ms', 'p95 ms', 'agent fps'],
        [
          [
            'sharp resize + JS fill (plain frames)',
            json.preprocessOptionsMs.sharp.p50,
            json.preprocessOptionsMs.sharp.p95,
            json.throughput.agentSharpFps,
          ],
          [
            'ffmpeg scale/pad in the capture process + JS fill (default)',
            json.preprocessOptionsMs.ffmpegScaleJsFill.p50,
            json.preprocessOptionsMs.ffmpegScaleJsFill.p95,
            json.throughput.agentFps,
          ],
          [
            `ffmpeg scale/pad + uint8 NHWC variant, zero copy${uint8Variant ? ` (${uint8Variant.id})` : ' (JS cost only: no uint8-input variant in the catalog yet)'}`,
            json.preprocessOptionsMs.ffmpegScaleUint8ZeroCopy.p50,
            json.preprocessOptionsMs.ffmpegScaleUint8ZeroCopy.p95,
            '',
          ],
          ['postprocess (YOLOX decode + NMS)', json.postprocessMs.p50, json.postprocessMs.p95, ''],
        ],
      ),
    ].join('\n');
    return { json, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      'rss-minutes': { type: 'string' },
      threads: { type: 'string' },
      model: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const result = await benchPipeline({
    quick: values.quick ?? false,
    ...(values['rss-minutes'] ? { rssMinutes: Number(values['rss-minutes']) } : {}),
    ...(values.threads ? { threads: Number(values.threads) } : {}),
    ...(values.model ? { model: values.model } : {}),
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  });
  const out = path.resolve(values.out ?? path.join(packageRoot(), 'bench'));
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'pipeline.json'), `${JSON.stringify(result.json, null, 2)}\n`);
  writeFileSync(path.join(out, 'pipeline.md'), `# Camera pipeline\n\n${result.markdown}\n`);
  process.stdout.write(`${result.markdown}\n`);
}
