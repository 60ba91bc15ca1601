import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeAgentError } from '../../../src/errors.js';
import type { Feature } from '../../../src/features/feature.js';
import { routeRegistrars } from '../../../src/features/feature.js';
import { HttpServer } from '../../../src/http/server.js';
import { silentLogger } from '../../../src/log.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { fakeModel, memorySource } from '../../unit/pipeline/fakes.js';

/** A feature's routes: registered on the server, behind its token check and error handler. */
const probe: Feature = {
  name: 'probe',
  routes: (app) => {
    app.get('/api/probe', async () => ({ probe: true }));
    app.get('/api/probe/typed', async () => {
      throw new EdgeAgentError('probe: the thing is not ready');
    });
    app.get('/api/probe/bug', async () => {
      throw new TypeError("Cannot read properties of undefined (reading 'x')");
    });
  },
};

const TOKEN = 'feature-route-token-1234';

/** An HTTP server on a free port with a fake pipeline and these routes. */
function serverWith(routes: ConstructorParameters<typeof HttpServer>[0]['routes']) {
  return new HttpServer({
    config: {
      enabled: true,
      host: '127.0.0.1',
      port: 0,
      streamMaxFps: 5,
      streamQuality: 70,
      inferMaxBytes: 1 << 20,
      token: TOKEN,
    },
    log: silentLogger(),
    pipeline: new Pipeline({
      source: memorySource({ fps: 20 }),
      model: fakeModel('m', 2),
      pacing: { mode: 'continuous' },
      maxFrameAgeMs: 1000,
      log: silentLogger(),
    }),
    routes,
    version: 'test',
  });
}

describe('feature routes on the HTTP server', () => {
  let server: HttpServer;
  let url: string;
  const get = (path: string, auth = true) =>
    fetch(`${url}${path}`, auth ? { headers: { Authorization: `Bearer ${TOKEN}` } } : {});

  beforeAll(async () => {
    server = serverWith(routeRegistrars([probe]));
    url = await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('serves them behind the bearer token', async () => {
    expect((await get('/api/probe', false)).status).toBe(401);
    const ok = await get('/api/probe');
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ probe: true });
  });

  it('a typed error keeps its message; a bug says which request failed, not just "internal error"', async () => {
    const typed = await get('/api/probe/typed');
    expect(typed.status).toBe(500);
    expect(await typed.json()).toEqual({ error: 'probe: the thing is not ready' });
    const bug = await get('/api/probe/bug?secret=1');
    expect(bug.status).toBe(500);
    expect(await bug.json()).toEqual({ error: 'internal error on GET /api/probe/bug (see the agent log)' });
  });
});

describe('a route with a JSON schema', () => {
  // fastify would build Ajv or fast-json-stringify for it; the agent gives fastify compiler factories
  // that refuse (src/http/server.ts noJsonSchemas), and its bundle leaves those packages out.
  for (const [what, schema] of [
    ['a body schema', { body: { type: 'object' } }],
    ['a response schema', { response: { 200: { type: 'object' } } }],
  ] as const) {
    it(`is refused at start with what to do instead (${what})`, async () => {
      const server = serverWith([
        (app) => app.post('/api/schema-probe', { schema }, async () => ({ ok: true })),
      ]);
      try {
        await expect(server.start()).rejects.toThrow(
          /routes take no JSON schemas: check the request with zod/,
        );
      } finally {
        await server.stop().catch(() => {});
      }
    });
  }
});
