import { type ChildProcess, spawn, spawnSync as spawnSyncChild } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSource } from '../../../src/camera/index.js';
import { ToolMissingError } from '../../../src/camera/tools.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { requireTool } from '../../helpers/system-tools.js';
import { makeSampleVideo } from '../../helpers/video.js';
import { freePort, recordStates, sourceFrom, take, waitFor } from './helpers.js';

const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg');

describe.skipIf(!hasFfmpeg)('capture supervision (real ffmpeg)', () => {
  let video: string;
  const servers: Server[] = [];
  const children: ChildProcess[] = [];
  beforeAll(() => {
    video = makeSampleVideo(mkdtempSync(path.join(tmpdir(), 'ea-sup-')), {
      width: 320,
      height: 240,
      fps: 20,
    });
  });
  afterAll(() => {
    for (const s of servers) s.close();
    for (const c of children) c.kill('SIGKILL');
  });

  it('a killed capture process is restarted with growing backoff; state goes stalled, then online again', async () => {
    const source = sourceFrom({ source: `file:${video}`, loop: true, realtime: true, restartDelayS: 0.4 });
    const states = recordStates(source);
    const killedAt: number[] = [];
    const resumedAfterMs: number[] = [];
    const pids = new Set<number>();
    let killedPid: number | undefined;
    await take(source, 30, (frame, i) => {
      const pid = source.status().pid!;
      pids.add(pid);
      if (killedPid !== undefined && pid !== killedPid && resumedAfterMs.length < killedAt.length) {
        resumedAfterMs.push(frame.timestampMs - killedAt[killedAt.length - 1]!);
      }
      if (i === 5 || i === 15) {
        killedPid = pid;
        killedAt.push(Date.now());
        process.kill(pid, 'SIGKILL');
      }
    });
    expect(pids.size).toBe(3);
    expect(source.status()).toMatchObject({ reconnects: 2, quality: 'fair' });
    expect(source.status().lastError).toMatch(/ffmpeg killed by SIGKILL/);
    const sequence = states.map((s) => s.state);
    expect(sequence.slice(0, 6)).toEqual(['starting', 'online', 'stalled', 'online', 'stalled', 'online']);
    // Backoff: 0.4 s (±20 %) after the first failure, doubled after the second (the run in between
    // was shorter than the 30 s that resets it). Lower bounds only: the host is noisy.
    expect(resumedAfterMs[0]).toBeGreaterThanOrEqual(0.4 * 0.8 * 1000);
    expect(resumedAfterMs[1]).toBeGreaterThanOrEqual(0.8 * 0.8 * 1000);
  });

  it('a camera that never delivers (HTTP server that hangs) goes offline within the configured time', async () => {
    const sockets: Socket[] = [];
    const server = createServer((req) => {
      sockets.push(req.socket); // accept, never answer
    });
    servers.push(server);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    const controller = new AbortController();
    const source = sourceFrom(
      {
        source: `http://127.0.0.1:${port}/video.mjpg`,
        startTimeoutS: 1,
        stallTimeoutS: 1,
        offlineAfterS: 3,
        restartDelayS: 0.2,
        networkTimeoutS: 30,
      },
      controller.signal,
    );
    const states = recordStates(source);
    const started = Date.now();
    const reading = take(source, 1);
    await waitFor(() => source.status().state === 'offline', 10_000, 'offline');
    const offlineAfterMs = Date.now() - started;
    const status = source.status();
    controller.abort();
    expect(await reading).toEqual([]);
    expect(offlineAfterMs).toBeGreaterThanOrEqual(3000);
    expect(states.map((s) => s.state)).toEqual(['starting', 'stalled', 'offline', 'stopped']);
    expect(status.stalls).toBeGreaterThanOrEqual(1);
    expect(status.reconnects).toBeGreaterThanOrEqual(1);
    expect(status.quality).toBe('unusable');
    expect(status.lastError).toMatch(/stalled: no first frame within 1 s/);
    for (const s of sockets) s.destroy();
  });

  it('ffmpeg failing at once (no such V4L2 device) is retried; its error is reported', async () => {
    const controller = new AbortController();
    const source = sourceFrom(
      { source: 'v4l2:/dev/video-missing-9', offlineAfterS: 1.5, restartDelayS: 0.2 },
      controller.signal,
    );
    const reading = take(source, 1);
    await waitFor(
      () => source.status().reconnects >= 2 && source.status().state === 'offline',
      8000,
      'retries',
    );
    controller.abort();
    expect(await reading).toEqual([]);
    expect(source.status().lastError).toContain('/dev/video-missing-9: No such file or directory');
  });

  it('a missing capture tool fails with the package to install, without retrying', async () => {
    const config = parseConfig({ camera: { source: 'libcamera' } });
    const source = createSource(config.camera, {
      log: silentLogger(),
      lookup: (n) => (n === 'ffmpeg' ? '/usr/bin/ffmpeg' : undefined),
    });
    await expect(take(source, 1)).rejects.toThrow(ToolMissingError);
    await expect(take(source, 1)).rejects.toThrow(
      /rpicam-vid not found in PATH.*apt-get install -y rpicam-apps/,
    );
    const noFfmpeg = createSource(parseConfig({ camera: { source: `file:${video}` } }).camera, {
      lookup: () => undefined,
    });
    await expect(take(noFfmpeg, 1)).rejects.toThrow(/ffmpeg not found in PATH.*apt-get install -y ffmpeg/);
  });

  it('consumes an MJPEG stream served over HTTP by ffmpeg', async () => {
    const port = await freePort();
    const server = spawn(
      'ffmpeg',
      [
        '-hide_banner',
        '-loglevel',
        'error',
        '-re',
        '-stream_loop',
        '-1',
        '-i',
        video,
        '-c:v',
        'mjpeg',
        '-q:v',
        '5',
        '-f',
        'mpjpeg',
        '-listen',
        '1',
        `http://127.0.0.1:${port}/cam.mjpg`,
      ],
      { stdio: 'ignore' },
    );
    children.push(server);
    await new Promise((r) => setTimeout(r, 500));
    const source = sourceFrom({ source: `http://127.0.0.1:${port}/cam.mjpg`, startTimeoutS: 10 });
    const frames = await take(source, 5);
    expect(frames.map((f) => `${f.width}x${f.height}`)).toEqual(Array(5).fill('320x240'));
    expect(source.status()).toMatchObject({ width: 320, height: 240, reconnects: 0 });
    server.kill('SIGKILL');
  });

  /** An HLS playlist of the sample video on a local HTTP server; counts the requests it gets. */
  async function serveHls(): Promise<{ port: number; requests: () => number }> {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-hls-'));
    mkdirSync(path.join(dir, 'live'));
    runOk('ffmpeg', [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      video,
      '-c:v',
      'copy',
      '-f',
      'hls',
      '-hls_time',
      '1',
      '-hls_list_size',
      '0',
      path.join(dir, 'live', 'index.m3u8'),
    ]);
    let requests = 0;
    const server = createServer((req, res) => {
      requests += 1;
      try {
        res.end(readFileSync(path.join(dir, (req.url ?? '/').split('?')[0]!)));
      } catch {
        res.statusCode = 404;
        res.end();
      }
    });
    servers.push(server);
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    return { port, requests: () => requests };
  }

  it('consumes an HLS playlist over HTTP', async () => {
    const { port } = await serveHls();
    const source = sourceFrom({ source: `http://127.0.0.1:${port}/live/index.m3u8`, realtime: true });
    const frames = await take(source, 5);
    expect(frames.map((f) => `${f.width}x${f.height}`)).toEqual(Array(5).fill('320x240'));
  });

  it('follows no HTTP redirect unless camera.maxRedirects allows it (a redirect could lead to the device itself)', async () => {
    const hls = await serveHls();
    const redirector = createServer((_req, res) => {
      res.writeHead(302, { Location: `http://127.0.0.1:${hls.port}/live/index.m3u8` });
      res.end();
    });
    servers.push(redirector);
    const port = await freePort();
    await new Promise<void>((r) => redirector.listen(port, '127.0.0.1', r));
    const camera = { source: `http://127.0.0.1:${port}/cam`, realtime: true };

    const controller = new AbortController();
    const refused = sourceFrom({ ...camera, startTimeoutS: 3, restartDelayS: 0.2 }, controller.signal);
    const reading = take(refused, 1);
    await waitFor(() => (refused.status().lastError ?? '') !== '', 15_000, 'a capture error');
    const status = refused.status();
    controller.abort();
    expect(await reading).toEqual([]);
    expect(status.lastError).toMatch(/redirect/);
    expect(hls.requests()).toBe(0); // the redirect target was never contacted

    const following = sourceFrom({ ...camera, maxRedirects: 1 });
    const frames = await take(following, 3);
    expect(frames.map((f) => `${f.width}x${f.height}`)).toEqual(Array(3).fill('320x240'));
    expect(hls.requests()).toBeGreaterThan(0);
  });
});

function runOk(command: string, args: string[]): void {
  const { status, stderr } = spawnSyncChild(command, args, { encoding: 'utf8' }) as {
    status: number;
    stderr: string;
  };
  if (status !== 0) throw new Error(`${command} failed: ${stderr}`);
}
