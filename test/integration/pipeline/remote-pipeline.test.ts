import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource } from '../../../src/camera/index.js';
import { parseConfig } from '../../../src/config/index.js';
import { WorkerModel } from '../../../src/inference/worker-model.js';
import { silentLogger } from '../../../src/log.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { RemotePipeline } from '../../../src/pipeline/remote/remote-pipeline.js';
import type { FrameResult } from '../../../src/pipeline/types.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { requireTool } from '../../helpers/system-tools.js';

const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg');

/** A 640×480 H.264 video of the sample photographs, about 3 frames each. */
function makeVideo(dir: string): string {
  const out = path.join(dir, 'samples.mp4');
  execFileSync('ffmpeg', [
    ...['-hide_banner', '-loglevel', 'error', '-y', '-framerate', '1', '-pattern_type', 'glob'],
    ...['-i', path.join(REPO, 'samples', '*.jpg'), '-r', '3'],
    ...['-vf', 'scale=640:480:force_original_aspect_ratio=decrease,pad=640:480:(ow-iw)/2:(oh-ih)/2'],
    ...['-pix_fmt', 'yuv420p', '-c:v', 'libx264', '-preset', 'veryfast', out],
  ]);
  return out;
}

/** What must match bit for bit: every number of the decoded results (JSON keeps doubles exactly). */
const decoded = (r: FrameResult) =>
  JSON.stringify({ seq: r.seq, w: r.imageWidth, h: r.imageHeight, d: r.detections, c: r.classes });

describe.skipIf(!hasFfmpeg)('the pipeline in a worker (RemotePipeline)', () => {
  let dir: string;
  let video: string;
  let catalog: Catalog;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ea-remote-'));
    video = makeVideo(dir);
    catalog = await loadCatalog({ modelsDir: MODELS });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const camera = (scaleInCapture: boolean) =>
    parseConfig({ camera: { source: `file:${video}`, realtime: false, loop: false, scaleInCapture } }).camera;
  const load = () => WorkerModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 } });

  for (const scaleInCapture of [true, false]) {
    it(`gives the same results bit for bit as the main-thread pipeline (scaleInCapture ${scaleInCapture})`, async () => {
      const base = {
        pacing: { mode: 'continuous' } as const,
        maxFrameAgeMs: 1000,
        scaleInCapture,
        log: silentLogger(),
      };
      const here: FrameResult[] = [];
      const model = await load();
      try {
        const pipeline = new Pipeline({ ...base, source: createSource(camera(scaleInCapture)), model });
        pipeline.onResult((r) => here.push(r));
        pipeline.start();
        await pipeline.finished();
      } finally {
        await model.dispose();
      }

      const there: FrameResult[] = [];
      const remoteModel = await load();
      const remote = new RemotePipeline({ ...base, camera: camera(scaleInCapture), model: remoteModel });
      try {
        remote.onResult((r) => there.push(r));
        remote.start();
        const stats = await remote.finished();
        expect(stats.state).toBe('stopped');
        expect(stats.counters.processed).toBe(there.length);
        expect(stats.preparePath).toBe(scaleInCapture ? 'planes' : 'sharp');
      } finally {
        await remote.stop();
        await remoteModel.dispose();
      }
      // A file read as fast as possible drops nothing: every frame, in order, in both.
      expect(here.length).toBeGreaterThanOrEqual(10);
      expect(there.map(decoded)).toEqual(here.map(decoded));
      expect(there.some((r) => (r.detections ?? []).length > 0)).toBe(true);
    });
  }

  it('sends pixels only on request, switches models and pacing by message, and stops', async () => {
    const model = await load();
    const remote = new RemotePipeline({
      camera: parseConfig({ camera: { source: `file:${video}`, realtime: false, loop: true } }).camera,
      model,
      pacing: { mode: 'continuous', fps: 20 },
      maxFrameAgeMs: 1000,
      log: silentLogger(),
    });
    const states: string[] = [];
    remote.camera.onStateChange((c) => states.push(c.state));
    try {
      remote.start();
      const first = await new Promise<FrameResult>((resolve) => {
        const off = remote.onResult((r) => {
          off();
          resolve(r);
        });
      });
      expect(first.model).toBe('yolox-nano');
      // Results alone so far: no pixels crossed to this thread.
      expect(remote.framesReceived).toBe(0);
      // Frames with results while subscribed: the camera image as the capture process made it.
      const withFrame = await new Promise<{ r: FrameResult; bytes: number; w: number }>((resolve) => {
        const off = remote.onFrame((r, f) => {
          off();
          resolve({ r, bytes: f.data.byteLength, w: f.prepared?.sourceWidth ?? f.width });
        });
      });
      const side = model.input.width;
      expect(withFrame.bytes).toBe(side * side * 3);
      expect(withFrame.w).toBe(640);
      expect(remote.framesReceived).toBeGreaterThan(0);
      const pair = await remote.latestFrame();
      // Replies come in order: every frame sent before the unsubscription has arrived by now, and
      // no more come with the next results.
      const settled = remote.framesReceived;
      await new Promise<void>((resolve) => {
        let n = 0;
        const off = remote.onResult(() => {
          if (++n < 3) return;
          off();
          resolve();
        });
      });
      expect(remote.framesReceived).toBe(settled);
      expect(pair?.frame.data.byteLength).toBe(side * side * 3);
      expect(pair?.result.seq).toBeGreaterThanOrEqual(first.seq);

      // A model switch (another input: capture restarts scaled for it); the old session is disposed.
      const next = await WorkerModel.load({ catalog, model: 'squeezenet1.1', session: { threads: 1 } });
      await remote.setModel(next);
      expect(remote.model).toBe(next);
      await expect(model.run({ data: new Float32Array(3), dims: [1, 3, 1, 1] })).rejects.toThrow(/disposed/);
      const switched = await new Promise<FrameResult>((resolve) => {
        const off = remote.onResult((r) => {
          if (r.model !== 'squeezenet1.1') return;
          off();
          resolve(r);
        });
      });
      expect(switched.classes?.length).toBeGreaterThan(0);

      remote.setPacing({ mode: 'continuous', fps: 5 });
      expect(remote.stats().pacing).toMatchObject({ mode: 'continuous', fps: 5 });
      expect(remote.stats().camera.state).toBe('online');
      expect(states).toContain('online');
    } finally {
      await remote.stop();
      await remote.model.dispose();
    }
    expect(remote.stats().state).toBe('stopped');
    expect(remote.stats().counters.processed).toBeGreaterThan(0);
  });

  it('reports a source that cannot be read as a failed pipeline, and stops one never started', async () => {
    const model = await load();
    try {
      const missing = new RemotePipeline({
        camera: parseConfig({ camera: { source: `file:${path.join(dir, 'missing.mp4')}`, realtime: false } })
          .camera,
        model,
        pacing: { mode: 'continuous' },
        maxFrameAgeMs: 1000,
        log: silentLogger(),
      });
      missing.start();
      await expect(missing.finished()).rejects.toThrow(/no such file/);
      expect(missing.stats().state).toBe('failed');
      expect(missing.stats().lastError).toMatch(/no such file/);

      const idle = new RemotePipeline({
        camera: camera(true),
        model,
        pacing: { mode: 'continuous' },
        maxFrameAgeMs: 1000,
        log: silentLogger(),
      });
      await idle.stop();
      expect(idle.stats().state).toBe('idle');
      expect(await idle.latestFrame()).toBeUndefined();
    } finally {
      await model.dispose();
    }
  });
});
