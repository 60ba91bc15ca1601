import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { noModel } from '../../../src/agent/no-model.js';
import { parseConfig } from '../../../src/config/index.js';
import { probeExecutionProviders } from '../../../src/hardware/execution-providers.js';
import { silentLogger } from '../../../src/log.js';
import { probeInPipelineWorker } from '../../../src/pipeline/remote/provider-probe-host.js';
import { RemotePipeline } from '../../../src/pipeline/remote/remote-pipeline.js';
import { startPipelineWorker } from '../../../src/pipeline/remote/spawn.js';
import { REPO } from '../../helpers/paths.js';

// The agent probes onnxruntime's execution providers in its pipeline worker (provider-probe-host.ts,
// worker-main.ts), where onnxruntime is loaded for the sessions: the main thread never loads it.

const exitOf = (worker: Worker) => new Promise<number>((resolve) => worker.once('exit', resolve));

describe('the execution-provider probe in the pipeline worker', () => {
  it('answers what a probe in this thread answers, with its log lines relayed', async () => {
    const worker = startPipelineWorker();
    const lines: Array<{ level: number; msg?: string; component?: string }> = [];
    try {
      const { info, failure } = await probeInPipelineWorker(worker, {
        logLevel: 'debug',
        relay: (line) => lines.push(JSON.parse(line)),
      });
      expect(failure).toBeUndefined();
      const here = await probeExecutionProviders({ fresh: true });
      expect(info).toEqual(here);
      expect(info!.available).toContain('cpu');
      // The probe's own debug line, logged in the worker, reached the relay.
      expect(lines.find((l) => l.msg === 'execution providers probed')).toMatchObject({
        component: 'hardware',
        level: 20,
      });
    } finally {
      const exited = exitOf(worker);
      worker.postMessage({ type: 'close' });
      expect(await exited).toBe(0);
    }
    // Two probes (the worker's and this thread's), each with a child process where Vulkan is installed.
  }, 90_000);

  it('says why when the worker has ended, ends before answering, or does not answer in time', async () => {
    const ended = startPipelineWorker();
    const endedExit = exitOf(ended);
    ended.postMessage({ type: 'close' });
    await endedExit;
    expect(await probeInPipelineWorker(ended, { logLevel: 'info', relay: () => undefined })).toEqual({
      failure: 'the pipeline worker has ended',
    });

    // A thread that reads nothing and ends soon, and one that never answers.
    const quitting = new Worker('setTimeout(() => process.exit(3), 200)', { eval: true });
    expect(await probeInPipelineWorker(quitting, { logLevel: 'info', relay: () => undefined })).toEqual({
      failure: 'the pipeline worker ended before answering',
    });
    const silent = new Worker("require('node:worker_threads').parentPort.on('message', () => undefined)", {
      eval: true,
    });
    try {
      const started = Date.now();
      expect(
        await probeInPipelineWorker(silent, { logLevel: 'info', relay: () => undefined, timeoutMs: 300 }),
      ).toEqual({ failure: 'the pipeline worker did not answer in time' });
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      await silent.terminate();
    }
  });

  it('a pipeline stopped before it started lets a probe under way in its worker finish, then the worker ends', async () => {
    // The agent without a loadable model: its pipeline waits unstarted while the tuner's profile
    // probes in the worker. A SIGTERM then used to terminate() the worker in the middle of the probe's
    // onnxruntime session, which aborted the whole process now and then (SIGSEGV).
    const worker = startPipelineWorker();
    const exited = exitOf(worker);
    const pipeline = new RemotePipeline({
      camera: parseConfig({ camera: { source: `images:${path.join(REPO, 'samples')}` } }).camera,
      model: noModel(() => 'none in this test'),
      pacing: { mode: 'continuous' },
      maxFrameAgeMs: 1000,
      log: silentLogger(),
      worker,
    });
    const probed = pipeline.probeExecutionProviders();
    await pipeline.stop();
    expect(pipeline.stats().state).toBe('idle');
    // The probe answered (a terminated worker cannot), and the thread then ended by itself.
    expect((await probed)?.available).toContain('cpu');
    expect(await exited).toBe(0);
  }, 90_000);
});
