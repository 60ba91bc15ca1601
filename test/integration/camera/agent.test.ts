import { mkdtempSync } from 'node:fs';
import { createServer, get } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent.js';
import { parseConfig } from '../../../src/config/index.js';
import { parseMjpegParts } from '../../../src/http/stream.js';
import { silentLogger } from '../../../src/log.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { requireTool } from '../../helpers/system-tools.js';
import { freePort, waitFor } from './helpers.js';

const hasFfmpeg = requireTool('ffmpeg', 'ffmpeg');

function agentConfig(dir: string, camera: Record<string, unknown>) {
  return parseConfig({
    dataDir: path.join(dir, 'data'),
    models: { dir: MODELS, default: 'yolox-nano' },
    inference: { threads: 1 },
    camera,
    http: { port: 0 },
    mqtt: { embedded: { port: 0 } },
    log: { level: 'silent' },
  });
}

/** The first JPEG of an MJPEG stream; the connection is closed then. */
function firstStreamPart(url: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = get(url, (res) => {
      let buffer = Buffer.alloc(0);
      res.on('data', (chunk: Buffer) => {
        const parsed = parseMjpegParts(Buffer.concat([buffer, chunk]));
        buffer = Buffer.from(parsed.rest);
        const [part] = parsed.parts;
        if (!part) return;
        req.destroy();
        resolve(part);
      });
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err);
    });
  });
}

describe('the agent serves its pipeline over HTTP', () => {
  it('frames from the sample folder show up in /api/status and /api/results/latest', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-agent-'));
    const agent = new Agent({
      config: agentConfig(dir, { source: `images:${REPO}/samples`, fps: 10 }),
      log: silentLogger(),
    });
    await agent.start();
    try {
      const url = agent.http!.url!;
      await waitFor(() => (agent.pipeline?.stats().counters.processed ?? 0) >= 2, 30_000, 'two results');
      type Status = {
        pipeline: { counters: { processed: number } };
        readings: { temperaturesC: Record<string, number> } | null;
      };
      // The live sampler's first reading can land after the first frames on a busy machine.
      let status = (await (await fetch(`${url}/api/status`)).json()) as Status;
      for (let i = 0; i < 100 && status.readings === null; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = (await (await fetch(`${url}/api/status`)).json()) as Status;
      }
      expect(status.pipeline.counters.processed).toBeGreaterThanOrEqual(2);
      // The live sampler's readings (this machine may have no thermal zones: an empty map).
      expect(status.readings?.temperaturesC).toBeTypeOf('object');
      const latest = (await (await fetch(`${url}/api/results/latest`)).json()) as { variant: string };
      expect(latest.variant).toBe('fp32');
      expect(await (await fetch(`${url}/api/decision`)).json()).toMatchObject({
        source: 'config',
        variant: 'fp32',
      });
      const profile = (await (await fetch(`${url}/api/profile`)).json()) as {
        schemaVersion: number;
        fingerprint: string;
      };
      expect(profile.schemaVersion).toBe(1);
      expect(profile.fingerprint).toMatch(/^[0-9a-f]{64}$/);
      // The pipeline runs in its worker: the MJPEG stream asks it for pixels while it is watched.
      const jpeg = await firstStreamPart(`${url}/api/stream.mjpg`);
      expect([...jpeg.subarray(0, 2)]).toEqual([0xff, 0xd8]);
    } finally {
      await agent.stop();
    }
  });

  it.skipIf(!hasFfmpeg)(
    'a camera that goes silent is reported offline and recorded as a camera-lost event',
    async () => {
      const sockets: Socket[] = [];
      const server = createServer((req) => sockets.push(req.socket));
      const port = await freePort();
      await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
      const dir = mkdtempSync(path.join(tmpdir(), 'ea-agent-'));
      const config = agentConfig(dir, {
        source: `http://127.0.0.1:${port}/cam.mjpg`,
        startTimeoutS: 0.5,
        stallTimeoutS: 0.5,
        offlineAfterS: 1.5,
        restartDelayS: 0.2,
      });
      const agent = new Agent({ config, log: silentLogger() });
      await agent.start();
      try {
        await waitFor(() => agent.pipeline?.stats().camera.state === 'offline', 10_000, 'offline');
        const status = (await (await fetch(`${agent.http!.url}/api/status`)).json()) as {
          camera: { state: string; quality: string };
        };
        expect(status.camera).toMatchObject({ state: 'offline', quality: 'unusable' });
      } finally {
        await agent.stop();
        for (const s of sockets) s.destroy();
        server.close();
      }
      const db = new Database(path.join(dir, 'data', 'edge-agent.db'), { readonly: true });
      const events = db
        .prepare("SELECT type, severity, data FROM events WHERE type LIKE 'camera-%'")
        .all() as Array<{
        type: string;
        severity: string;
        data: string;
      }>;
      db.close();
      expect(events[0]).toMatchObject({ type: 'camera-lost', severity: 'warning' });
      expect(JSON.parse(events[0]!.data)).toMatchObject({
        source: `http://127.0.0.1:${port}/cam.mjpg`,
        from: 'stalled',
      });
    },
  );
});
