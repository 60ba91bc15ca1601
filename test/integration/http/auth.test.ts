import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { routeRegistrars } from '../../../src/features/feature.js';
import { modelsFeature } from '../../../src/features/models.js';
import { HttpServer } from '../../../src/http/server.js';
import { silentLogger } from '../../../src/log.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { fakeModel, memorySource } from '../../unit/pipeline/fakes.js';

const TOKEN = 'a-long-dashboard-token-1234';

function serverOn(host: string, token: string | undefined, log = silentLogger()) {
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
    log,
    pipeline,
    routes: routeRegistrars([
      modelsFeature({
        models: {
          catalog: { models: () => [] } as never,
          active: () => undefined,
          switchTo: () => Promise.reject(new Error('not in this test')),
        },
        decision: () => ({ source: 'config' }),
      }),
    ]),
    version: 'test',
  });
  return { server, pipeline };
}

describe('HTTP auth when bound beyond loopback', () => {
  let logged = '';
  let url: string;
  let server: HttpServer;
  let pipeline: Pipeline;
  beforeAll(async () => {
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    ({ server, pipeline } = serverOn('0.0.0.0', TOKEN, pino({ level: 'trace' }, sink)));
    const address = await server.start();
    url = address.replace('0.0.0.0', '127.0.0.1');
    pipeline.start();
  });
  afterAll(async () => {
    await server.stop();
    await pipeline.stop();
  });

  it('refuses to bind beyond loopback without a token', () => {
    expect(() => serverOn('0.0.0.0', undefined)).toThrow(ConfigError);
    expect(() => serverOn('192.168.1.10', undefined)).toThrow(/set http.token/);
    expect(() => serverOn('127.0.0.1', undefined)).not.toThrow();
  });

  it('API, stream and metrics need the bearer token; health and the page shell do not', async () => {
    for (const path of [
      '/api/status',
      '/api/models',
      '/api/results/latest',
      '/api/stream.mjpg',
      '/api/live/frame',
      '/api/metrics/history',
      '/metrics',
    ]) {
      const res = await fetch(`${url}${path}`);
      expect([path, res.status]).toEqual([path, 401]);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="edge-agent"');
    }
    const wrong = await fetch(`${url}/api/status`, {
      headers: { Authorization: 'Bearer not-the-token-at-all' },
    });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${url}/api/status`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect((await fetch(`${url}/metrics`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status).toBe(
      200,
    );
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    expect((await fetch(`${url}/`)).status).toBe(200);
    expect((await fetch(`${url}/app.js`)).status).toBe(200);
    expect((await fetch(`${url}/panels.js`)).status).toBe(200);
  });

  it('the dashboard signs in once and then uses an HttpOnly session cookie (not the token)', async () => {
    const bad = await fetch(`${url}/api/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: 'guess-guess-guess-guess' }),
    });
    expect(bad.status).toBe(401);
    const ok = await fetch(`${url}/api/session`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(ok.status).toBe(200);
    const cookie = ok.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^edge_agent_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\//);
    expect(cookie).not.toContain(TOKEN);
    const session = cookie.split(';')[0]!;
    expect((await fetch(`${url}/api/status`, { headers: { Cookie: session } })).status).toBe(200);
    expect(
      (await fetch(`${url}/api/status`, { headers: { Cookie: 'edge_agent_session=forged' } })).status,
    ).toBe(401);
  });

  it('never writes the token to the log', async () => {
    await fetch(`${url}/api/status?access_token=${TOKEN}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(logged).toContain('"msg":"http"');
    expect(logged).toContain('"path":"/api/status"');
    expect(logged).not.toContain(TOKEN);
  });
});
