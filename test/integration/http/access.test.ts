import { request as httpRequest } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer } from '../../../src/http/server.js';
import { silentLogger } from '../../../src/log.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { fakeModel, memorySource } from '../../unit/pipeline/fakes.js';

/** Issue 12 item 5: Host header check (DNS rebinding) and wrong-token throttling, on a real server. */
const TOKEN = 'a-long-dashboard-token-1234';

function get(
  url: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ hostname, port, path, headers, method: 'GET' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

async function serve(host: string, token?: string) {
  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      logged += chunk.toString();
      done();
    },
  });
  const pipeline = new Pipeline({
    source: memorySource({ fps: 20 }),
    model: fakeModel('m', 2),
    pacing: { mode: 'continuous' },
    maxFrameAgeMs: 1000,
    log: silentLogger(),
  });
  const server = new HttpServer({
    config: {
      enabled: true,
      host,
      port: 0,
      streamMaxFps: 5,
      streamQuality: 70,
      inferMaxBytes: 1 << 20,
      ...(token ? { token } : {}),
    },
    log: pino({ level: 'info' }, sink),
    pipeline,
    version: 'test',
  });
  const url = (await server.start()).replace('0.0.0.0', '127.0.0.1');
  stops.push(() => server.stop());
  return { url, logs: () => logged };
}

describe('HTTP access', () => {
  it('on loopback, answers only requests addressed to a loopback name (DNS rebinding)', async () => {
    const { url, logs } = await serve('127.0.0.1');
    const port = new URL(url).port;
    for (const host of ['evil.example', `evil.example:${port}`, '192.168.1.20', 'localhost.evil.example']) {
      const res = await get(url, '/api/status', { Host: host });
      expect([host, res.status]).toEqual([host, 403]);
      expect(res.body).toContain('host not allowed');
    }
    for (const host of [
      `localhost:${port}`,
      `127.0.0.1:${port}`,
      '127.0.0.2',
      `[::1]:${port}`,
      'LOCALHOST',
    ]) {
      expect([host, (await get(url, '/api/status', { Host: host })).status]).toEqual([host, 200]);
    }
    expect(logs()).toContain('DNS rebinding protection');
  });

  it('bound beyond loopback with a token, serves any host name (the token protects it)', async () => {
    const { url } = await serve('0.0.0.0', TOKEN);
    const res = await get(url, '/api/status', { Host: 'cam-17.lan:8080', Authorization: `Bearer ${TOKEN}` });
    expect(res.status).toBe(200);
  });

  it('throttles wrong tokens per client with 429 + Retry-After, and logs them without the token', async () => {
    const { url, logs } = await serve('0.0.0.0', TOKEN);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await get(url, '/api/status', { Authorization: `Bearer wrong-guess-${i}-xxxxxxxx` });
      statuses.push(res.status);
    }
    expect(statuses).toEqual([...Array(10).fill(401), 429, 429]);
    // While throttled even the right token waits: guessing gains nothing.
    const blocked = await get(url, '/api/status', { Authorization: `Bearer ${TOKEN}` });
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Public paths stay reachable.
    expect((await get(url, '/healthz', {})).status).toBe(200);
    expect(logs()).toContain('wrong http token');
    expect(logs()).not.toContain('wrong-guess-');
  });
});
