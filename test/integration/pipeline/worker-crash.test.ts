import { closeSync, cpSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ModelHost } from '../../../src/agent/model-host.js';
import { noModel } from '../../../src/agent/no-model.js';
import type { BackoffPolicy } from '../../../src/camera/health.js';
import type { CameraConfig } from '../../../src/camera/index.js';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import type { WorkerModel } from '../../../src/inference/worker-model.js';
import { silentLogger } from '../../../src/log.js';
import { type PipelineRecovery, RemotePipeline } from '../../../src/pipeline/remote/remote-pipeline.js';
import { pipelineSessionHost } from '../../../src/pipeline/remote/session-host.js';
import {
  PIPELINE_WORKER_LIMITS,
  pipelineWorkerFiles,
  startPipelineWorker,
} from '../../../src/pipeline/remote/spawn.js';
import type { PipelineModel } from '../../../src/pipeline/types.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { pipelineFault } from '../../helpers/pipeline-fault.js';
import { toolPath } from '../../helpers/system-tools.js';

const IMAGE = path.join(REPO, 'samples', '000000086956.jpg');
const CRASHABLE = path.join(REPO, 'test', 'helpers', 'crashable-pipeline-worker.mjs');

/** A real pipeline worker that throws an uncaught error on `crash(worker)` (crashable-pipeline-worker.mjs). */
function crashableWorker(): Worker {
  const { script, entry } = pipelineWorkerFiles();
  const worker = new Worker(CRASHABLE, {
    workerData: { entry, boot: script },
    resourceLimits: PIPELINE_WORKER_LIMITS,
  });
  worker.unref();
  // As startPipelineWorker's: a crash before a RemotePipeline listens is not an uncaught error here.
  worker.on('error', () => undefined);
  return worker;
}
const crash = (worker: Worker) => worker.postMessage({ type: 'test-crash' });
// A worker's exit code, watched from when it is started where that matters (`recovering`): a worker
// told to close can be gone before the test asks, and its `exit` is not emitted again.
const exits = new WeakMap<Worker, Promise<number>>();
const watchExit = (worker: Worker) => {
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  exits.set(worker, exited);
  return exited;
};
const exitOf = (worker: Worker) => exits.get(worker) ?? watchExit(worker);

// A pipeline worker that dies (an uncaught error, or exiting) ends the pipeline as failed, and the
// agent's `pipeline` fault says so with the reason: a real worker thread, the agent's fault probe.
function crashingPipeline(code: string): RemotePipeline {
  const worker = new Worker(`require('node:worker_threads').parentPort.once('message', () => { ${code} });`, {
    eval: true,
  });
  return new RemotePipeline({
    camera: parseConfig({ camera: { source: 'synthetic' } }).camera,
    model: noModel(() => 'test'),
    pacing: { mode: 'continuous' },
    maxFrameAgeMs: 1000,
    log: silentLogger(),
    worker,
  });
}

describe('a pipeline worker that dies', () => {
  it('an uncaught error: the pipeline fails with it and the pipeline fault names it', async () => {
    const pipeline = crashingPipeline("throw new Error('boom in the worker')");
    const fault = pipelineFault(systemClock, () => pipeline.stats());
    pipeline.start();
    await expect(pipeline.finished()).rejects.toThrow(/pipeline worker crashed: boom in the worker/);
    expect(pipeline.stats().state).toBe('failed');
    expect(fault()?.severity).toBe('error');
    expect(fault()?.message).toContain('inference stopped: pipeline worker crashed: boom in the worker');
    await pipeline.stop(); // stopping a failed pipeline is quiet
  });

  it('exiting: the exit code is the reason', async () => {
    const pipeline = crashingPipeline('process.exit(3)');
    const fault = pipelineFault(systemClock, () => pipeline.stats());
    pipeline.start();
    await expect(pipeline.finished()).rejects.toThrow(/pipeline worker exited \(code 3\)/);
    expect(fault()?.message).toContain('pipeline worker exited (code 3)');
  });
});

// With a recovery (the agent's), a failure is not the end: a new worker, the model loaded again into
// it (the real ModelHost), and the pipeline going on — counters included. Real worker threads and
// onnxruntime sessions; a worker is ended from outside as an out-of-memory or a crash would end it.
describe('a pipeline with a recovery', () => {
  const fast: BackoffPolicy = { initialMs: 50, maxMs: 200, factor: 2, jitter: 0 };
  const synthetic = parseConfig({ camera: { source: 'synthetic', fps: 30 } }).camera;

  async function hostedModels(
    dir = MODELS,
    variant?: string,
  ): Promise<{ models: ModelHost; worker: Worker }> {
    const config = parseConfig({
      models: { dir, default: 'squeezenet1.1', ...(variant ? { variant } : {}) },
      inference: { threads: 1 },
    });
    const models = new ModelHost(config, silentLogger());
    const worker = crashableWorker();
    models.sessionHost = pipelineSessionHost(worker);
    expect(await models.loadInitial()).toBeDefined();
    return { models, worker };
  }

  /**
   * A RemotePipeline on `worker` running `models`' model, restarted with `recovery` (fast backoff);
   * the workers it starts are pushed to `workers` when given.
   */
  function recovering(
    models: ModelHost,
    worker: Worker,
    recovery: Partial<PipelineRecovery>,
    options: { camera?: CameraConfig; workers?: Worker[] } = {},
  ): RemotePipeline {
    const { workers } = options;
    const pipeline = new RemotePipeline({
      camera: options.camera ?? synthetic,
      model: models.model!,
      pacing: { mode: 'continuous' },
      maxFrameAgeMs: 1000,
      log: silentLogger(),
      worker,
      ...(workers
        ? {
            spawn: () => {
              const w = startPipelineWorker();
              watchExit(w);
              workers.push(w);
              return w;
            },
          }
        : {}),
      recovery: { reload: (host) => models.reloadInto(host), policy: fast, ...recovery },
    });
    models.attach(pipeline);
    return pipeline;
  }

  it('a worker that dies is replaced: the model is loaded into the new one and inference goes on', async () => {
    const { models, worker } = await hostedModels();
    const first = models.model!;
    const workers = [worker];
    const failures: Array<{ error: string; attempt: number; restartInMs: number }> = [];
    let onRestart: (r: { attempt: number; model: PipelineModel }) => void = () => undefined;
    const restarted = new Promise<{ attempt: number; model: PipelineModel }>(
      (resolve) => (onRestart = resolve),
    );
    const pipeline = recovering(
      models,
      worker,
      { onFailure: (f) => failures.push(f), onRestart: (r) => onRestart(r) },
      { workers },
    );
    const fault = pipelineFault(systemClock, () => pipeline.stats());
    let secondExit: Promise<number> | undefined;
    try {
      pipeline.start();
      await nextResult(pipeline);
      const before = pipeline.stats().counters.processed;
      expect(before).toBeGreaterThan(0);

      const failed = new Promise<void>((resolve) => workers[0]!.once('error', () => setImmediate(resolve)));
      crash(workers[0]!);
      await failed;
      // Failed at once, restarted after the backoff.
      expect(pipeline.stats().state).toBe('failed');
      expect(fault()?.message).toMatch(
        /inference stopped: pipeline worker crashed: injected crash in the pipeline worker.*restarting it in \d+ s \(attempt 1\)/,
      );
      const { attempt, model } = await restarted;
      secondExit = exitOf(workers[1]!);
      expect(attempt).toBe(1);
      expect(failures).toEqual([
        {
          error: 'pipeline worker crashed: injected crash in the pipeline worker',
          attempt: 1,
          restartInMs: 50,
        },
      ]);
      expect(workers).toHaveLength(2);

      // The lost session's model was replaced by one served in the new worker; the host knows it.
      expect(model).not.toBe(first);
      expect(models.model).toBe(model);
      expect(pipeline.model).toBe(model);
      expect(models.model!.sessionThread).toBe('pipeline worker');
      await expect(first.inferEncoded(IMAGE)).rejects.toThrow();
      await nextResult(pipeline);
      const stats = pipeline.stats();
      expect(stats.state).toBe('running');
      expect(stats.lastError).toBeUndefined();
      expect(stats.restarts).toEqual({ count: 1, failures: 1, nextAtMs: undefined });
      // Counted across both workers.
      expect(stats.counters.processed).toBeGreaterThan(before);
      expect(fault()).toBeUndefined();
      // Stills through the pipeline's model work again.
      const still = await pipeline.withModel((m) => (m as WorkerModel).inferEncoded(IMAGE));
      expect(still.classes?.length ?? still.detections?.length).toBeGreaterThan(0);
    } finally {
      await pipeline.stop();
      await models.dispose();
    }
    // Stopped, not failed; the new worker ends with it (once the host released its session).
    await expect(pipeline.finished()).resolves.toMatchObject({ state: 'stopped' });
    expect(await secondExit).toBe(0);
  }, 60_000);

  it('a restart that cannot load the model backs off and tries again; stop ends the wait at once', async () => {
    const { models, worker } = await hostedModels();
    const workers = [worker];
    const failures: Array<{ error: string; attempt: number; restartInMs: number }> = [];
    let gotThree: () => void = () => undefined;
    const three = new Promise<void>((resolve) => (gotThree = resolve));
    const pipeline = recovering(
      models,
      worker,
      {
        reload: async () => {
          throw new Error('the model file is gone');
        },
        onFailure: (f) => {
          failures.push(f);
          if (failures.length === 3) gotThree();
        },
      },
      { workers },
    );
    try {
      pipeline.start();
      await nextResult(pipeline);
      crash(workers[0]!);
      await three;
      expect(failures.map((f) => f.attempt)).toEqual([1, 2, 3]);
      expect(failures.map((f) => f.restartInMs)).toEqual([50, 100, 200]);
      expect(failures[1]!.error).toBe('restarting the pipeline: the model file is gone');
      const stats = pipeline.stats();
      expect(stats.state).toBe('failed');
      expect(stats.restarts).toMatchObject({ count: 0, failures: 3 });
      expect(stats.restarts!.nextAtMs).toBeGreaterThan(0);
    } finally {
      await pipeline.stop();
      await models.dispose();
    }
    await expect(pipeline.finished()).resolves.toMatchObject({ state: 'stopped' });
    const count = workers.length;
    // Every worker started for an attempt ends (told to close: it hosts no session)…
    expect(await Promise.all(workers.slice(1).map(exitOf))).toEqual(workers.slice(1).map(() => 0));
    // …and none is started after the stop.
    await new Promise((r) => setTimeout(r, 400));
    expect(workers).toHaveLength(count);
  }, 60_000);

  it('a source that fails is restarted too, the worker that still hosted the session ended', async () => {
    const { models, worker } = await hostedModels();
    const failures: string[] = [];
    let second: () => void = () => undefined;
    const twice = new Promise<void>((resolve) => (second = resolve));
    const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
    const pipeline = recovering(
      models,
      worker,
      {
        onFailure: (f) => {
          failures.push(f.error);
          if (failures.length === 2) second();
        },
      },
      {
        camera: parseConfig({ camera: { source: 'file:/nonexistent/edge-agent.mp4', realtime: false } })
          .camera,
      },
    );
    try {
      pipeline.start();
      await twice;
      // The file is missing, or (a machine without ffmpeg: `npm test` runs without system tools) the
      // tool that would read it: either way the source fails and is restarted.
      expect(failures[0]).toMatch(
        toolPath('ffmpeg') ? /nonexistent.*no such file/ : /ffmpeg not found in PATH.*nonexistent/,
      );
      expect(failures[1]).toBe(failures[0]);
      // Not terminated (it hosted a session): it ended by itself once the reload released that.
      expect(await exited).toBe(0);
      expect(pipeline.stats().restarts?.count).toBeGreaterThanOrEqual(1);
    } finally {
      await pipeline.stop();
      await models.dispose();
    }
    await expect(pipeline.finished()).resolves.toMatchObject({ state: 'stopped' });
  }, 60_000);
  it('a worker that died before the pipeline was built or started is replaced at the start', async () => {
    const { models, worker } = await hostedModels();
    const workers = [worker];
    const lost = exitOf(worker);
    crash(worker);
    await lost; // gone before the RemotePipeline listens, as while the model loaded
    let onRestart: () => void = () => undefined;
    const restarted = new Promise<void>((resolve) => (onRestart = resolve));
    const failures: string[] = [];
    const pipeline = recovering(
      models,
      worker,
      { onFailure: (f) => failures.push(f.error), onRestart: () => onRestart() },
      { workers },
    );
    try {
      pipeline.start();
      await restarted;
      expect(failures).toEqual(['pipeline worker ended before the pipeline started']);
      await nextResult(pipeline);
      expect(pipeline.stats()).toMatchObject({ state: 'running', restarts: { count: 1 } });
      expect(workers).toHaveLength(2);
    } finally {
      await pipeline.stop();
      await models.dispose();
    }
  }, 60_000);

  it('a running variant that no longer loads: the restart falls back to another, as at start', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-restart-'));
    const models = path.join(dir, 'models');
    cpSync(path.join(MODELS, 'squeezenet1.1'), path.join(models, 'squeezenet1.1'), { recursive: true });
    try {
      const { models: host, worker } = await hostedModels(models, 'fp32');
      let onRestart: (r: { model: PipelineModel }) => void = () => undefined;
      const restarted = new Promise<{ model: PipelineModel }>((resolve) => (onRestart = resolve));
      const pipeline = recovering(host, worker, { onRestart: (r) => onRestart(r) });
      try {
        pipeline.start();
        await nextResult(pipeline);
        expect(host.fallback).toBeUndefined();
        // The fp32 file changes under the running agent: its sha256 no longer matches the manifest.
        const fd = openSync(path.join(models, 'squeezenet1.1', 'squeezenet1.1.onnx'), 'r+');
        writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 100_000);
        closeSync(fd);
        crash(worker);
        const { model } = await restarted;
        expect(`${model.name}/${model.variant.id}`).toBe('squeezenet1.1/fp16');
        expect(host.model).toBe(model);
        // Recorded as at start: the model-fallback fault reads it.
        expect(host.fallback?.failures[0]?.choice).toEqual({ model: 'squeezenet1.1', variant: 'fp32' });
        expect(host.fallback?.failures[0]?.error).toMatch(/sha256/);
        await nextResult(pipeline);
        expect(pipeline.stats().model.variant).toBe('fp16');
      } finally {
        await pipeline.stop();
        await host.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

/** The next result of `pipeline`. */
function nextResult(pipeline: RemotePipeline): Promise<unknown> {
  return new Promise((resolve) => {
    const off = pipeline.onResult((r) => {
      off();
      resolve(r);
    });
  });
}
