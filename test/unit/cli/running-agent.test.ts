import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runningAgentUrl } from '../../../src/cli/running-agent.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A local HTTP server answering every request with `status` and `body`; its port. */
async function serve(status: number, body: string, delayMs = 0): Promise<number> {
  const server = http.createServer((_req, res) => {
    setTimeout(() => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    }, delayMs);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('runningAgentUrl', () => {
  it('finds an agent by its /healthz answer, also when it binds every address', async () => {
    const port = await serve(
      200,
      JSON.stringify({ status: 'ok', pipeline: 'running', camera: 'online', faults: [] }),
    );
    expect(await runningAgentUrl({ enabled: true, host: '127.0.0.1', port })).toBe(
      `http://127.0.0.1:${port}`,
    );
    expect(await runningAgentUrl({ enabled: true, host: '0.0.0.0', port })).toBe(`http://127.0.0.1:${port}`);
  });

  it('nothing for another service on the port, an error status, a silent server, nothing listening, or HTTP off', async () => {
    const other = await serve(200, JSON.stringify({ ok: true }));
    expect(await runningAgentUrl({ enabled: true, host: '127.0.0.1', port: other })).toBeUndefined();
    const html = await serve(200, '<html>not json</html>');
    expect(await runningAgentUrl({ enabled: true, host: '127.0.0.1', port: html })).toBeUndefined();
    const failing = await serve(503, JSON.stringify({ status: 'down', pipeline: 'stopped' }));
    expect(await runningAgentUrl({ enabled: true, host: '127.0.0.1', port: failing })).toBeUndefined();
    const slow = await serve(200, JSON.stringify({ status: 'ok', pipeline: 'running' }), 2000);
    expect(await runningAgentUrl({ enabled: true, host: '127.0.0.1', port: slow }, 100)).toBeUndefined();
    const closed = await serve(200, '{}');
    await new Promise((r) => servers.pop()!.close(r));
    expect(await runningAgentUrl({ enabled: true, host: '127.0.0.1', port: closed })).toBeUndefined();
    const agent = await serve(200, JSON.stringify({ status: 'ok', pipeline: 'running' }));
    expect(await runningAgentUrl({ enabled: false, host: '127.0.0.1', port: agent })).toBeUndefined();
  });
});
