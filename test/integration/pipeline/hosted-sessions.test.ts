import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { WorkerModel } from '../../../src/inference/worker-model.js';
import { silentLogger } from '../../../src/log.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import { RemotePipeline } from '../../../src/pipeline/remote/remote-pipeline.js';
import { pipelineSessionHost } from '../../../src/pipeline/remote/session-host.js';
import { startPipelineWorker } from '../../../src/pipeline/remote/spawn.js';
import type { FrameResult } from '../../../src/pipeline/types.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { requireTool } from '../../helpers/system-tools.js';
import { makeSampleVideo } from '../../helpers/video.js';

// The agent's sessions served in the pipeline worker (session-host.ts, serve-session.mjs): one V8
// isolate less than a session worker of their own, with the same results, switches and failures.
const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg');
const IMAGE = path.join(REPO, 'samples', '000000086956.jpg');

const exitOf = (worker: Worker) => new Promise<number>((resolve) => worker.once('exit', resolve));

/** The next result that `accept` takes. */
function nextResult(remote: RemotePipeline, accept: (r: FrameResult) => boolean): Promise<FrameResult> {
  return new Promise((resolve) => {
    const off = remote.onResult((r) => {
      if (!accept(r)) return;
      off();
      resolve(r);
    });
  });
}

describe('sessions hosted in the pipeline worker', () => {
  let dir: string;
  let catalog: Catalog;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ea-hosted-'));
    catalog = await loadCatalog({ modelsDir: MODELS });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('infers as a session worker of its own does, and releases the session on dispose', async () => {
    const worker = startPipelineWorker();
    const host = pipelineSessionHost(worker);
    const hosted = await WorkerModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 }, host });
    const own = await WorkerModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 } });
    try {
      expect(hosted.sessionThread).toBe('pipeline worker');
      expect(own.sessionThread).toBe('own worker');
      const a = await hosted.inferEncoded(IMAGE);
      const b = await own.inferEncoded(IMAGE);
      expect(a.detections!.length).toBeGreaterThan(0);
      expect(a.detections).toEqual(b.detections);
      expect(hosted.workerTimes().runs).toBe(1);
    } finally {
      await own.dispose();
      await hosted.dispose();
    }
    expect(hosted.sessionReleased).toBe(true);
    await expect(hosted.inferEncoded(IMAGE)).rejects.toThrow(/disposed/);
    await worker.terminate();
  });

  it('reports a session that cannot open, as a worker of its own does', async () => {
    const worker = startPipelineWorker();
    try {
      const port = pipelineSessionHost(worker).open({
        model: new Uint8Array([1, 2, 3, 4]),
        attempts: [{ provider: 'cpu', options: {} }],
      });
      const reply = await new Promise<{ type: string; message?: string }>((resolve) =>
        port!.once('message', resolve),
      );
      expect(reply.type).toBe('failed');
      expect(reply.message).toMatch(/cpu: .+/);
    } finally {
      await worker.terminate();
    }
  });

  it('the end of the hosting thread fails its models; a later load gets a worker of its own', async () => {
    const worker = startPipelineWorker();
    const host = pipelineSessionHost(worker);
    const hosted = await WorkerModel.load({ catalog, model: 'squeezenet1.1', session: { threads: 1 }, host });
    await worker.terminate();
    await expect(
      hosted.run({ data: new Float32Array(3 * 224 * 224), dims: [1, 3, 224, 224] }),
    ).rejects.toThrow(/inference worker exited/);
    // A host whose thread has ended opens nothing: the session goes to a worker of its own.
    const fallback = await WorkerModel.load({
      catalog,
      model: 'squeezenet1.1',
      session: { threads: 1 },
      host,
    });
    try {
      expect(fallback.sessionThread).toBe('own worker');
      expect(
        (await fallback.inferEncoded(path.join(REPO, 'samples', 'coffee.png'))).classes?.length,
      ).toBeGreaterThan(0);
    } finally {
      await fallback.dispose();
      await hosted.dispose();
    }
  });

  it.skipIf(!hasFfmpeg)(
    'a pipeline whose worker hosts its session: a model switch keeps serving and releases the old session',
    async () => {
      const video = makeSampleVideo(dir, { fps: 10 });
      const worker = startPipelineWorker();
      const exited = exitOf(worker);
      const host = pipelineSessionHost(worker);
      const first = await WorkerModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 }, host });
      const remote = new RemotePipeline({
        camera: parseConfig({ camera: { source: `file:${video}`, realtime: false, loop: true } }).camera,
        model: first,
        pacing: { mode: 'continuous' },
        maxFrameAgeMs: 1000,
        log: silentLogger(),
        worker,
      });
      let next: WorkerModel | undefined;
      try {
        remote.start();
        const before = await nextResult(
          remote,
          (r) => r.model === 'yolox-nano' && (r.detections ?? []).length > 0,
        );
        // The main thread's stills run on the same hosted session while the pipeline runs.
        expect((await first.inferEncoded(IMAGE)).detections!.length).toBeGreaterThan(0);

        // The new session loads in the host next to the old one, which keeps serving frames.
        next = await WorkerModel.load({ catalog, model: 'squeezenet1.1', session: { threads: 1 }, host });
        expect(next.sessionThread).toBe('pipeline worker');
        const served = await nextResult(remote, (r) => r.seq > before.seq);
        expect(served.model).toBe('yolox-nano');
        await remote.setModel(next);
        // The switch waited for the old session's release in the host.
        expect(first.sessionReleased).toBe(true);
        await expect(first.run({ data: new Float32Array(3), dims: [1, 3, 1, 1] })).rejects.toThrow(
          /disposed/,
        );
        const after = await nextResult(remote, (r) => r.model === 'squeezenet1.1');
        expect(after.seq).toBeGreaterThan(served.seq);
        expect(after.classes?.length).toBeGreaterThan(0);
        expect(remote.stats().counters.failed).toBe(0);
      } finally {
        await remote.stop();
        await (next ?? first).dispose();
      }
      expect(remote.stats().state).toBe('stopped');
      // The pipeline stopped and its last session released: nothing keeps the thread.
      expect(await exited).toBe(0);
    },
    60_000,
  );

  it.skipIf(!hasFfmpeg)(
    'a pipeline that ended still hosts a switch; the thread ends with its last session',
    async () => {
      const video = makeSampleVideo(dir, { fps: 4, name: 'short.mp4' });
      const worker = startPipelineWorker();
      const exited = exitOf(worker);
      const host = pipelineSessionHost(worker);
      const first = await WorkerModel.load({
        catalog,
        model: 'squeezenet1.1',
        session: { threads: 1 },
        host,
      });
      const remote = new RemotePipeline({
        camera: parseConfig({ camera: { source: `file:${video}`, realtime: false, loop: false } }).camera,
        model: first,
        pacing: { mode: 'continuous' },
        maxFrameAgeMs: 1000,
        log: silentLogger(),
        worker,
      });
      remote.start();
      expect((await remote.finished()).counters.processed).toBeGreaterThan(0);
      // The video is over; the worker lives on for its session, and takes another one.
      const next = await WorkerModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 }, host });
      expect(next.sessionThread).toBe('pipeline worker');
      await remote.setModel(next);
      expect(first.sessionReleased).toBe(true);
      expect((await next.inferEncoded(IMAGE)).detections!.length).toBeGreaterThan(0);
      await remote.stop();
      await next.dispose();
      expect(next.sessionReleased).toBe(true);
      expect(await exited).toBe(0);
    },
    60_000,
  );
});
