// The camera pipeline's figures (issues 5, 18), in one process and one run so ratios are comparable:
//   - agent throughput ÷ a bare `run` loop on the same session (target ≥ 0.90 with 2 threads), the
//     agent's pipeline in its worker (RemotePipeline) and, for comparison, on the main thread,
//   - CPU per frame: agent process + capture (ffmpeg) vs the bare loop; main-thread busy per frame,
//   - per-frame JavaScript work (prepare + postprocess) p50/p95 (target ≤ 1 ms p50),
//   - event-loop lag p99 while inferring, RSS after N minutes vs after 1 minute,
//   - the preprocessing options: sharp vs ffmpeg scale/pad + JS fill vs a uint8 NHWC variant.
// Alone: `npm run bench:pipeline [-- --quick] [-- --rss-minutes 10] [-- --threads N]`.
import { execFileSync, spawn } from 'node:child_process';
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
import { WorkerModel, type WorkerModelOptions } from '../../src/inference/worker-model.js';
import { silentLogger } from '../../src/log.js';
import { loadCatalog } from '../../src/models/catalog.js';
import { effectiveInputSpec, type InputSpec } from '../../src/models/manifest.js';
import { derive } from '../../src/optimize/index.js';
import { packageRoot } from '../../src/paths.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { TensorPreparer, targetFor } from '../../src/pipeline/prepare.js';
import { RemotePipeline } from '../../src/pipeline/remote/remote-pipeline.js';
import { pipelineSessionHost } from '../../src/pipeline/remote/session-host.js';
import { startPipelineWorker } from '../../src/pipeline/remote/spawn.js';
import { childCpuMs, mainThreadCpuMs, markdownTable, percentile, round } from './stats.js';

export interface PipelineBenchOptions {
  quick?: boolean;
  /** Length of the memory run; RSS is compared at 1 minute (or half-way when shorter) and at the end. */
  rssMinutes?: number;
  threads?: number;
  model?: string;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `fn` while another process spins on pure arithmetic (no memory traffic, no syscalls): how
 * much the bare loop slows when something else merely uses another core tells what any capture
 * process or event loop beside inference costs on this machine, whatever the agent does.
 */
async function withBusyNeighbour<T>(fn: () => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, ['-e', 'let x = 0; for (;;) x = (x + Math.sqrt(x + 1)) % 7;'], {
    stdio: 'ignore',
  });
  await sleep(200);
  try {
    return await fn();
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
    );
  }
}

/** A 640×480 H.264 video of the sample photographs, as a USB camera would deliver them. */
export function makeVideo(dir: string): string {
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

interface AgentRun {
  fps: number;
  /** CPU of this process (main thread, inference worker, onnxruntime's threads) per frame. */
  cpuMsPerFrame: number;
  /** CPU of the capture process (ffmpeg: decode and scale) per frame. */
  ffmpegCpuMsPerFrame: number;
  jsMs: number[];
  busyMsPerFrame: number;
  /** CPU of the main thread alone per frame (/proc task of the pid). */
  mainCpuMsPerFrame: number;
  /** Inside the inference worker, per frame: session.run alone, and waiting for the next frame. */
  workerRunMs: number;
  workerIdleMs: number;
  lagP99Ms: number;
  path: string | undefined;
}

export async function benchPipeline(
  options: PipelineBenchOptions = {},
): Promise<{ json: unknown; markdown: string }> {
  const quick = options.quick ?? false;
  const log = options.log ?? (() => {});
  const threadsList = options.threads ? [options.threads] : [1, 2];
  const rounds = quick ? 1 : 3;
  const phaseS = quick ? 5 : 10;
  const rssMinutes = options.rssMinutes ?? (quick ? 0.5 : 2);
  const root = packageRoot();
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-pipeline-'));
  try {
    const video = makeVideo(dir);
    const catalog = await loadCatalog({ modelsDir: path.join(root, 'models') });
    const modelName = options.model ?? 'yolox-nano';
    const entry = catalog.model(modelName);
    const spec = effectiveInputSpec(entry.manifest.input, catalog.variant(modelName).variant);

    // 1. Preprocessing options, each on the same 30 frames, nothing else running.
    const nhwcFloat: InputSpec = { ...spec, layout: 'NHWC' };
    const uint8Spec: InputSpec = { ...spec, dtype: 'uint8', layout: 'NHWC' };
    const plain = await grabFrames(video, 30);
    const planar = await grabFrames(video, 30, spec);
    const packed = await grabFrames(video, 30, uint8Spec);
    const preparer = new TensorPreparer();
    const timeEach = async (frames: Frame[], s: InputSpec, expected: string) => {
      const ms: number[] = [];
      for (const f of frames) {
        const t0 = performance.now();
        const p = await preparer.prepare(f, s);
        ms.push(performance.now() - t0);
        if (p.path !== expected) throw new Error(`expected the ${expected} path, got ${p.path}`);
        preparer.release(p);
      }
      return ms;
    };
    await timeEach(plain.slice(0, 3), spec, 'sharp'); // warm up sharp and the JIT
    const options_ = {
      sharp: summary(await timeEach(plain, spec, 'sharp')),
      planes: summary(await timeEach(planar, spec, 'planes')),
      interleavedFill: summary(await timeEach(packed, nhwcFloat, 'fill')),
      zeroCopy: summary(await timeEach(packed, uint8Spec, 'zero-copy')),
    };
    // A uint8 NHWC variant (the cast, layout and normalisation inside the graph), derived here.
    log('deriving an input-uint8 variant');
    const derived = await derive(
      catalog,
      modelName,
      'input-uint8',
      {},
      { dataDir: path.join(dir, 'data'), evaluationLimit: 4 },
    );
    const withDerived = await loadCatalog({
      modelsDir: path.join(root, 'models'),
      dataDir: path.join(dir, 'data'),
    });
    const uint8Variant = withDerived.model(modelName).variants.find((v) => v.id === derived.variant.id);

    const results: Array<Record<string, unknown>> = [];
    let rss:
      | {
          samples: Array<{ minute: number; rssMB: number }>;
          first: { minute: number; rssMB: number };
          last: { minute: number; rssMB: number };
        }
      | undefined;
    let postMs: number[] = [];
    for (const [ti, threads] of threadsList.entries()) {
      // The agent's model (session in a worker thread) and the baseline: the same variant and
      // session options (no spinning, as the agent sets it) in-process, called back to back.
      const session = { threads, allowSpinning: false };
      // How each model was loaded: the agent's runs load it again, hosted in their pipeline worker.
      const loadOf = new Map<WorkerModel, WorkerModelOptions>();
      const load = async (o: WorkerModelOptions) => {
        const m = await WorkerModel.load(o);
        loadOf.set(m, o);
        return m;
      };
      const model = await load({ catalog, model: modelName, session });
      const u8Model = uint8Variant
        ? await load({ catalog: withDerived, model: modelName, variant: uint8Variant.id, session })
        : undefined;
      const bareModel = await InferenceModel.load({ catalog, model: modelName, session });
      log(
        `pipeline: ${modelName}/${model.variant.id}, ${threads} thread(s), ${rounds} round(s) of ${phaseS} s`,
      );
      if (ti === 0) {
        for (const f of planar.slice(0, 15)) {
          const p = await preparer.prepare(f, spec);
          const outputs = await model.run(p);
          const t0 = performance.now();
          postprocess(model.decoder, outputs, spec, p.inverse, model.labels);
          postMs.push(performance.now() - t0);
          preparer.release(p);
        }
        postMs = postMs.slice(3);
      }
      const input = await preparer.prepare(planar[0]!, spec);
      const bareCpu: number[] = [];
      const bareLoop = async () => {
        let n = 0;
        const cpu0 = process.cpuUsage();
        const until = performance.now() + phaseS * 1000;
        while (performance.now() < until) {
          await bareModel.run(input);
          n++;
        }
        const cpu = process.cpuUsage(cpu0);
        bareCpu.push((cpu.user + cpu.system) / 1000 / n);
        return n / phaseS;
      };
      /**
       * `hosted`: the agent's pipeline (RemotePipeline) in a worker that also serves the session
       * (loaded there before the run); `worker`: the same with the session in a worker of its own
       * (three isolates, before the hosting); `main`: the pipeline on the main thread (before issue 18).
       */
      const agentRun = async (
        ownModel: WorkerModel,
        scaleInCapture: boolean,
        seconds: number,
        onSample?: (s: number) => void,
        where: 'hosted' | 'worker' | 'main' = 'hosted',
      ): Promise<AgentRun> => {
        const pipelineWorker = where === 'hosted' ? startPipelineWorker() : undefined;
        const runModel = pipelineWorker
          ? await WorkerModel.load({ ...loadOf.get(ownModel)!, host: pipelineSessionHost(pipelineWorker) })
          : ownModel;
        const config = parseConfig({
          camera: { source: `file:${video}`, realtime: false, loop: true, scaleInCapture },
        });
        const common = {
          model: runModel,
          pacing: { mode: 'continuous' } as const,
          maxFrameAgeMs: 1000,
          scaleInCapture,
          log: silentLogger(),
        };
        const pipeline =
          where !== 'main'
            ? new RemotePipeline({
                ...common,
                camera: config.camera,
                ...(pipelineWorker ? { worker: pipelineWorker } : {}),
              })
            : new Pipeline({ ...common, source: createSource(config.camera, { log: silentLogger() }) });
        // Only numbers are kept: holding every result for ten minutes would itself grow memory.
        const jsMs: number[] = [];
        let counting = false;
        pipeline.onResult((r) => {
          if (counting) jsMs.push(r.timings.preprocessMs + r.timings.postprocessMs);
        });
        pipeline.start();
        await sleep(1500); // ffmpeg start-up, warm-up
        counting = true;
        const elu0 = performance.eventLoopUtilization();
        const cpu0 = process.cpuUsage();
        const main0 = mainThreadCpuMs();
        const ffmpeg0 = childCpuMs('ffmpeg');
        const worker0 = runModel.workerTimes();
        const t0 = performance.now();
        for (let s = 1; s <= seconds; s++) {
          await sleep(1000);
          onSample?.(s);
        }
        counting = false;
        const wallMs = performance.now() - t0;
        const elu = performance.eventLoopUtilization(elu0);
        const cpu = process.cpuUsage(cpu0);
        const mainMs = mainThreadCpuMs() - main0;
        const ffmpegMs = childCpuMs('ffmpeg') - ffmpeg0;
        const worker1 = runModel.workerTimes();
        const workerRuns = Math.max(1, worker1.runs - worker0.runs);
        const stats = pipeline.stats();
        await pipeline.stop();
        if (runModel !== ownModel) await runModel.dispose();
        const frames = Math.max(1, jsMs.length);
        return {
          fps: (jsMs.length * 1000) / wallMs,
          cpuMsPerFrame: (cpu.user + cpu.system) / 1000 / frames,
          ffmpegCpuMsPerFrame: ffmpegMs / frames,
          jsMs,
          busyMsPerFrame: elu.active / Math.max(1, jsMs.length),
          mainCpuMsPerFrame: mainMs / frames,
          workerRunMs: (worker1.runMs - worker0.runMs) / workerRuns,
          workerIdleMs: (worker1.idleMs - worker0.idleMs) / workerRuns,
          lagP99Ms: stats.eventLoopLag.p99Ms,
          path: stats.preparePath,
        };
      };
      const bare: number[] = [];
      const bareBusy: number[] = [];
      const agent: AgentRun[] = [];
      const agentOwn: AgentRun[] = [];
      const agentMain: AgentRun[] = [];
      const agentSharp: AgentRun[] = [];
      const agentU8: AgentRun[] = [];
      await bareLoop(); // warm-up
      bareCpu.length = 0;
      for (let r = 0; r < rounds; r++) {
        bare.push(await bareLoop());
        bareBusy.push(await withBusyNeighbour(bareLoop));
        bareCpu.pop(); // the CPU figure is the bare loop's alone
        agent.push(await agentRun(model, true, phaseS));
        agentOwn.push(await agentRun(model, true, phaseS, undefined, 'worker'));
        agentMain.push(await agentRun(model, true, phaseS, undefined, 'main'));
        agentSharp.push(await agentRun(model, false, phaseS));
        if (u8Model) agentU8.push(await agentRun(u8Model, true, phaseS));
        log(
          `  round ${r + 1}: bare ${bare[r]!.toFixed(1)}/s, agent ${agent[r]!.fps.toFixed(1)}/s (${agent[r]!.path}; main thread busy ${agent[r]!.busyMsPerFrame.toFixed(2)} ms/frame), session in its own worker ${agentOwn[r]!.fps.toFixed(1)}/s, pipeline on the main thread ${agentMain[r]!.fps.toFixed(1)}/s (busy ${agentMain[r]!.busyMsPerFrame.toFixed(2)} ms/frame), agent with sharp ${agentSharp[r]!.fps.toFixed(1)}/s` +
            (u8Model
              ? `, agent with the uint8 variant ${agentU8[r]!.fps.toFixed(1)}/s (${agentU8[r]!.path})`
              : ''),
        );
      }
      preparer.release(input);
      const ratios = agent.map((a, i) => a.fps / bare[i]!);
      const allJs = agent.flatMap((a) => a.jsMs);
      results.push({
        threads,
        bareRunPerS: round(median(bare), 1),
        agentFps: round(median(agent.map((a) => a.fps)), 1),
        agentSharpFps: round(median(agentSharp.map((a) => a.fps)), 1),
        ratio: round(median(ratios), 3),
        ratioPerRound: ratios.map((x) => round(x, 3)),
        // The same pipeline worker with the session in a worker of its own (one isolate more).
        ownSessionWorker: {
          fps: round(median(agentOwn.map((a) => a.fps)), 1),
          ratio: round(median(agentOwn.map((a, i) => a.fps / bare[i]!)), 3),
          hostedOverOwn: round(median(agent.map((a, i) => a.fps / agentOwn[i]!.fps)), 3),
          cpuMsPerFrame: round(median(agentOwn.map((a) => a.cpuMsPerFrame)), 2),
        },
        // The same pipeline on the main thread (frames and raw outputs through the event loop).
        mainThreadPipeline: {
          fps: round(median(agentMain.map((a) => a.fps)), 1),
          ratio: round(median(agentMain.map((a, i) => a.fps / bare[i]!)), 3),
          eventLoopBusyMsPerFrame: round(median(agentMain.map((a) => a.busyMsPerFrame)), 2),
          mainThreadCpuMsPerFrame: round(median(agentMain.map((a) => a.mainCpuMsPerFrame)), 2),
          cpuMsPerFrame: round(median(agentMain.map((a) => a.cpuMsPerFrame)), 2),
          ffmpegCpuMsPerFrame: round(median(agentMain.map((a) => a.ffmpegCpuMsPerFrame)), 2),
        },
        bareWithBusyNeighbourRatio: round(median(bareBusy.map((b, i) => b / bare[i]!)), 3),
        sharpRatio: round(median(agentSharp.map((a, i) => a.fps / bare[i]!)), 3),
        ...(u8Model
          ? {
              agentUint8Fps: round(median(agentU8.map((a) => a.fps)), 1),
              uint8Ratio: round(median(agentU8.map((a, i) => a.fps / bare[i]!)), 3),
              uint8JsWorkPerFrameMs: summary(agentU8.flatMap((a) => a.jsMs)),
            }
          : {}),
        cpuMsPerFrame: {
          bareRun: round(median(bareCpu), 2),
          agentProcess: round(median(agent.map((a) => a.cpuMsPerFrame)), 2),
          agentFfmpeg: round(median(agent.map((a) => a.ffmpegCpuMsPerFrame)), 2),
          agentMainThread: round(median(agent.map((a) => a.mainCpuMsPerFrame)), 2),
        },
        jsWorkPerFrameMs: summary(allJs),
        eventLoopBusyMsPerFrame: round(median(agent.map((a) => a.busyMsPerFrame)), 2),
        // Where the gap comes from: the worker's wait for frames is the agent's own serial
        // overhead; a slower session.run than the bare loop's is contention for the cores.
        workerPerFrameMs: {
          bareRun: round(1000 / median(bare), 2),
          // Measured on the main-thread pipeline's runs (the worker pipeline's go through a port).
          agentRun: round(median(agentMain.map((a) => a.workerRunMs)), 2),
          agentIdle: round(median(agentMain.map((a) => a.workerIdleMs)), 3),
        },
        eventLoopLagP99Ms: round(Math.max(...agent.map((a) => a.lagP99Ms)), 2),
      });

      if (ti === 0) {
        // 3. Memory over a longer run (as fast as possible, frames scaled by ffmpeg).
        const samples: Array<{ minute: number; rssMB: number }> = [];
        const total = Math.round(rssMinutes * 60);
        const firstAt = Math.min(60, Math.round(total / 2));
        log(`  memory run: ${rssMinutes} min`);
        await agentRun(model, true, total, (s) => {
          if (s === firstAt || s % 30 === 0 || s === total) {
            samples.push({ minute: round(s / 60, 2), rssMB: round(process.memoryUsage().rss / 2 ** 20, 1) });
          }
        });
        const first = samples.find((x) => x.minute >= firstAt / 60) ?? samples[0]!;
        rss = { samples, first, last: samples[samples.length - 1]! };
      }
      await model.dispose();
      await u8Model?.dispose();
      await bareModel.dispose();
    }

    const json = {
      model: `${modelName}/${catalog.variant(modelName).variant.id}`,
      video: '640x480 H.264, 30 fps, read as fast as possible (lossless: ffmpeg paused by backpressure)',
      throughput: results,
      preprocessOptionsMs: { ...options_, uint8Variant: uint8Variant?.id ?? null },
      postprocessMs: summary(postMs),
      rss: rss ? { ...rss, growthMB: round(rss.last.rssMB - rss.first.rssMB, 1) } : undefined,
    };
    const pass = (ok: boolean) => (ok ? 'yes' : 'no');
    const rows: Array<Array<string | number>> = [];
    for (const r of results as Array<{
      threads: number;
      ratio: number;
      agentFps: number;
      bareRunPerS: number;
      bareWithBusyNeighbourRatio: number;
      agentSharpFps: number;
      sharpRatio: number;
      agentUint8Fps?: number;
      uint8Ratio?: number;
      uint8JsWorkPerFrameMs?: { p50: number; p95: number };
      jsWorkPerFrameMs: { p50: number; p95: number };
      cpuMsPerFrame: { bareRun: number; agentProcess: number; agentFfmpeg: number; agentMainThread: number };
      eventLoopBusyMsPerFrame: number;
      ownSessionWorker: { fps: number; ratio: number; hostedOverOwn: number; cpuMsPerFrame: number };
      mainThreadPipeline: {
        fps: number;
        ratio: number;
        eventLoopBusyMsPerFrame: number;
        mainThreadCpuMsPerFrame: number;
        cpuMsPerFrame: number;
        ffmpegCpuMsPerFrame: number;
      };
      workerPerFrameMs: { bareRun: number; agentRun: number; agentIdle: number };
      eventLoopLagP99Ms: number;
    }>) {
      const t = `${r.threads} thread${r.threads === 1 ? '' : 's'}`;
      rows.push(
        [
          `${t}: agent ÷ bare \`run\` loop (pipeline in its worker)`,
          `${r.ratio} (${r.agentFps} vs ${r.bareRunPerS}/s)`,
          '≥ 0.90',
          pass(r.ratio >= 0.9),
        ],
        [
          `${t}: the same with the session in a worker of its own (three isolates) ÷ bare; hosted ÷ own`,
          `${r.ownSessionWorker.ratio} (${r.ownSessionWorker.fps}/s); ${r.ownSessionWorker.hostedOverOwn}`,
          '',
          '',
        ],
        [
          `${t}: the same pipeline on the main thread ÷ bare (before issue 18)`,
          `${r.mainThreadPipeline.ratio} (${r.mainThreadPipeline.fps}/s)`,
          '',
          '',
        ],
        [
          `${t}: control — bare loop while an unrelated process spins on another core ÷ bare alone`,
          `${r.bareWithBusyNeighbourRatio}`,
          '',
          '',
        ],
        [`${t}: agent with sharp preprocessing ÷ bare`, `${r.sharpRatio} (${r.agentSharpFps}/s)`, '', ''],
        ...(r.uint8Ratio !== undefined
          ? [
              [
                `${t}: agent with the uint8-input variant ÷ bare fp32 (frame = tensor)`,
                `${r.uint8Ratio} (${r.agentUint8Fps}/s; JS work p50 ${r.uint8JsWorkPerFrameMs?.p50} ms)`,
                '',
                '',
              ],
            ]
          : []),
        [
          `${t}: JS work per frame (prepare + postprocess) p50 / p95`,
          `${r.jsWorkPerFrameMs.p50} / ${r.jsWorkPerFrameMs.p95} ms`,
          '≤ 1 ms p50',
          pass(r.jsWorkPerFrameMs.p50 <= 1),
        ],
        [
          `${t}: main thread per frame: event-loop busy (ELU) / CPU — pipeline in its worker`,
          `${r.eventLoopBusyMsPerFrame} / ${r.cpuMsPerFrame.agentMainThread} ms`,
          '≤ 1 ms busy',
          pass(r.eventLoopBusyMsPerFrame <= 1),
        ],
        [
          `${t}: main thread per frame: event-loop busy (ELU) / CPU — pipeline on the main thread`,
          `${r.mainThreadPipeline.eventLoopBusyMsPerFrame} / ${r.mainThreadPipeline.mainThreadCpuMsPerFrame} ms`,
          '',
          '',
        ],
        [
          `${t}: per frame in the inference worker (pipeline on the main thread): session.run / waiting for the next frame (bare loop: ms per run)`,
          `${r.workerPerFrameMs.agentRun} / ${r.workerPerFrameMs.agentIdle} ms (${r.workerPerFrameMs.bareRun} ms)`,
          '',
          '',
        ],
        [
          `${t}: CPU per frame: bare run / agent process (main + workers + onnxruntime) + capture ffmpeg = total`,
          `${r.cpuMsPerFrame.bareRun} / ${r.cpuMsPerFrame.agentProcess} + ${r.cpuMsPerFrame.agentFfmpeg} = ${round(r.cpuMsPerFrame.agentProcess + r.cpuMsPerFrame.agentFfmpeg, 2)} ms`,
          '',
          '',
        ],
        [
          `${t}: CPU per frame, pipeline on the main thread: process + ffmpeg = total`,
          `${r.mainThreadPipeline.cpuMsPerFrame} + ${r.mainThreadPipeline.ffmpegCpuMsPerFrame} = ${round(r.mainThreadPipeline.cpuMsPerFrame + r.mainThreadPipeline.ffmpegCpuMsPerFrame, 2)} ms`,
          '',
          '',
        ],
        [
          `${t}: event-loop lag p99 while inferring`,
          `${r.eventLoopLagP99Ms} ms`,
          '< 20 ms',
          pass(r.eventLoopLagP99Ms < 20),
        ],
      );
    }
    if (json.rss) {
      const { first, last, growthMB } = json.rss;
      rows.push([
        `RSS at ${first.minute} min → ${last.minute} min`,
        `${first.rssMB} → ${last.rssMB} MB (${growthMB >= 0 ? '+' : ''}${growthMB} MB)`,
        'no growth',
        pass(growthMB < 10),
      ]);
    }
    const p = json.preprocessOptionsMs;
    const markdown = [
      `${json.model}, ${json.video}; ${rounds} interleaved round(s) of ${phaseS} s per thread count. The bare loop is the same variant and session options in-process, called back to back; the agent runs it in its inference worker and also decodes and scales the video (ffmpeg) and prepares and decodes every frame — in its pipeline worker (RemotePipeline: the main thread gets results only), or, for comparison, on the main thread. Main-thread CPU is the pid's own task in /proc; process CPU counts every thread.`,
      '',
      markdownTable(['figure', 'measured', 'target', 'met'], rows),
      '',
      'Preprocessing options (one 640×480 frame to the model tensor, main-thread wall time, ms):',
      '',
      markdownTable(
        ['option', 'p50', 'p95'],
        [
          ['sharp resize + JS fill (plain frames: image folders, synthetic)', p.sharp.p50, p.sharp.p95],
          [
            'ffmpeg scale/pad to planes + one typed-array copy per channel (default for NCHW models)',
            p.planes.p50,
            p.planes.p95,
          ],
          [
            'ffmpeg scale/pad interleaved + JS fill (float NHWC models)',
            p.interleavedFill.p50,
            p.interleavedFill.p95,
          ],
          [
            `ffmpeg scale/pad interleaved, uint8 NHWC variant: the frame is the tensor${uint8Variant ? ` (${uint8Variant.id}, derived with input-uint8)` : ''}`,
            p.zeroCopy.p50,
            p.zeroCopy.p95,
          ],
          ['postprocess (decode + NMS)', json.postprocessMs.p50, json.postprocessMs.p95],
        ],
      ),
    ].join('\n');
    return { json, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (v: number[]) => percentile(v, 50);
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
