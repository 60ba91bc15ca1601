import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { resizeForPlan } from '../../../src/image/decode.js';
import { planResize } from '../../../src/image/geometry.js';
import { contentImage } from '../../../src/pipeline/prepare.js';
import { requireTool } from '../../helpers/system-tools.js';
import { makeSampleVideo } from '../../helpers/video.js';
import { recordStates, sourceFrom, take } from './helpers.js';

const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg');

const YOLOX_TARGET = {
  width: 416,
  height: 416,
  resize: { mode: 'letterbox' as const, align: 'top-left' as const, padValue: 114 },
  colorOrder: 'BGR' as const,
  planar: true,
};

describe.skipIf(!hasFfmpeg)('file: source through ffmpeg', () => {
  let video: string;
  let frameCount: number;
  beforeAll(() => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-file-'));
    video = makeSampleVideo(dir, { width: 640, height: 480, fps: 10, secondsPerImage: 0.3 });
    frameCount = Number(
      execFileSync(
        'ffprobe',
        [
          '-v',
          'error',
          '-count_frames',
          '-select_streams',
          'v:0',
          '-show_entries',
          'stream=nb_read_frames',
          '-of',
          'csv=p=0',
          video,
        ],
        {
          encoding: 'utf8',
        },
      ).trim(),
    );
  });

  it('played once as fast as possible: every frame, right size, in order, then the source ends', async () => {
    const source = sourceFrom({ source: `file:${video}`, loop: false, realtime: false });
    const states = recordStates(source);
    const frames = await take(source, 10_000);
    expect(frames.length).toBe(frameCount);
    for (const [i, f] of frames.entries()) {
      expect([f.width, f.height, f.data.length, f.seq]).toEqual([640, 480, 640 * 480 * 3, i]);
      expect(f.prepared).toBeUndefined();
      if (i > 0) expect(f.timestampMs).toBeGreaterThanOrEqual(frames[i - 1]!.timestampMs);
      // Each frame has a buffer of its own (the pipeline worker may free it once the frame is done).
      expect(f.ownsBuffer).toBe(true);
      expect([f.data.byteOffset, f.data.buffer.byteLength]).toEqual([0, f.data.byteLength]);
    }
    expect(new Set(frames.map((f) => f.data.buffer)).size).toBe(frames.length);
    expect(frames[0]!.origin).toBe(`file:${video}`);
    expect(states.map((s) => s.state)).toEqual(['starting', 'online', 'stopped']);
    expect(source.status()).toMatchObject({
      state: 'stopped',
      framesDelivered: frameCount,
      width: 640,
      height: 480,
      reconnects: 0,
    });
  });

  it('a slow reader pauses ffmpeg (backpressure) without dropping frames or counting stalls', async () => {
    const source = sourceFrom({ source: `file:${video}`, loop: false, realtime: false, stallTimeoutS: 0.3 });
    expect(source.live).toBe(false);
    const seqs: number[] = [];
    for await (const frame of source.frames()) {
      seqs.push(frame.seq);
      if (seqs.length === 5) break;
      await new Promise((r) => setTimeout(r, 500)); // a model that needs 0.5 s per frame
    }
    expect(seqs).toEqual([0, 1, 2, 3, 4]);
    expect(source.status().state).toBe('stopped');
    expect(source.status()).toMatchObject({ reconnects: 0, stalls: 0 });
  });

  it('at its own rate (like a camera) and looped past its end', async () => {
    const source = sourceFrom({ source: `file:${video}`, loop: true, realtime: true });
    const count = frameCount + 5;
    const frames = await take(source, count);
    expect(frames.length).toBe(count);
    // 10 fps: the wall time spans at least most of the frame intervals (no upper bound: noisy host).
    const spanMs = frames[count - 1]!.timestampMs - frames[0]!.timestampMs;
    expect(spanMs).toBeGreaterThan((count - 1) * 100 * 0.7);
    expect(frames.map((f) => f.seq)).toEqual([...Array(count).keys()]);
    expect(source.status().reconnects).toBe(0);
  });

  it('scaled and padded by ffmpeg for the model: geometry as planResize, pixels as sharp makes them', async () => {
    const plain = (await take(sourceFrom({ source: `file:${video}`, loop: false, realtime: false }), 1))[0]!;
    const source = sourceFrom({ source: `file:${video}`, loop: false, realtime: false });
    expect(source.setTarget(YOLOX_TARGET)).toBe(true);
    const frame = (await take(source, 1))[0]!;
    expect([frame.width, frame.height]).toEqual([416, 416]);
    const plan = planResize(640, 480, YOLOX_TARGET);
    expect(frame.prepared).toMatchObject({
      sourceWidth: 640,
      sourceHeight: 480,
      contentX: 0,
      contentY: 0,
      contentWidth: plan.cropWidth,
      contentHeight: plan.cropHeight,
      inverse: plan.inverse,
    });
    // Planar (G, B, R planes); padding below the content: exactly the pad value in every plane.
    expect(frame.data.length).toBe(3 * 416 * 416);
    for (let y = plan.cropHeight; y < 416; y += 13) {
      for (let x = 0; x < 416; x += 17) {
        for (let c = 0; c < 3; c++) expect(frame.data[c * 416 * 416 + y * 416 + x]).toBe(114);
      }
    }
    // Content: the same picture sharp would make from the full frame (different resamplers).
    const reference = await resizeForPlan(plain, plan);
    const { image } = contentImage(frame);
    let diff = 0;
    for (let i = 0; i < reference.length; i++) diff += Math.abs(reference[i]! - image.data[i]!);
    expect(diff / reference.length).toBeLessThan(6);
    expect(source.status().preparedFor).toEqual(YOLOX_TARGET);
  });

  it('a new target mid-stream restarts capture at the new size without counting a reconnect', async () => {
    const source = sourceFrom({ source: `file:${video}`, loop: true, realtime: true });
    const sizes: string[] = [];
    await take(source, 8, (f, i) => {
      sizes.push(`${f.width}x${f.height}`);
      if (i === 2) source.setTarget({ ...YOLOX_TARGET, width: 320, height: 320, planar: false });
    });
    expect(sizes.slice(0, 3)).toEqual(['640x480', '640x480', '640x480']);
    expect(sizes[sizes.length - 1]).toBe('320x320');
    // Sequence numbers go on across the restart and across capture sessions.
    const again = await take(source, 1);
    expect(again[0]!.seq).toBeGreaterThanOrEqual(8);
    expect(source.status()).toMatchObject({ reconnects: 0, stalls: 0 });
  });
});

describe('image folder and synthetic sources', () => {
  it('images: every sample at its own size, paced, then the end of the folder', async () => {
    const source = sourceFrom({ source: 'images:./samples', fps: 50, loop: false });
    const frames = await take(source, 100);
    expect(frames.length).toBe(8);
    expect(frames.find((f) => f.origin === '000000086956.jpg')).toMatchObject({ width: 480, height: 640 });
    expect(frames.find((f) => f.origin === 'chelsea.png')).toMatchObject({ width: 451, height: 300 });
    const spanMs = frames[7]!.timestampMs - frames[0]!.timestampMs;
    expect(spanMs).toBeGreaterThan(7 * 20 * 0.7);
    expect(source.setTarget(YOLOX_TARGET)).toBe(false);
  });

  it('images: a restarted capture (duty cycle) goes on with the next image', async () => {
    const source = sourceFrom({ source: 'images:./samples', fps: 100, realtime: false });
    const first = await take(source, 3);
    const second = await take(source, 2);
    expect([...first, ...second].map((f) => f.seq)).toEqual([0, 1, 2, 3, 4]);
    expect(new Set([...first, ...second].map((f) => f.origin)).size).toBe(5);
  });

  it('synthetic: the configured size, a moving pattern', async () => {
    const source = sourceFrom({ source: 'synthetic', width: 320, height: 240, fps: 100 });
    const frames = await take(source, 3);
    expect(frames.map((f) => [f.width, f.height, f.data.length])).toEqual([
      [320, 240, 320 * 240 * 3],
      [320, 240, 320 * 240 * 3],
      [320, 240, 320 * 240 * 3],
    ]);
    expect(Buffer.compare(Buffer.from(frames[0]!.data), Buffer.from(frames[1]!.data))).not.toBe(0);
    expect(source.status().state).toBe('stopped');
  });
});
