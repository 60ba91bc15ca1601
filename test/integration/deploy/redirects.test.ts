import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redactSecrets } from '../../../src/config/redact.js';
import { downloadVerified, MAX_REDIRECTS, redirectTarget } from '../../../src/fleet/deploy/download.js';
import { REPO } from '../../helpers/paths.js';

const MODEL = readFileSync(path.join(REPO, 'models/ultraface/ultraface_version-slim-320.onnx'));
const SHA = createHash('sha256').update(MODEL).digest('hex');
const tmp = () => mkdtempSync(path.join(tmpdir(), 'ea-redirect-'));
const AUTH = `Basic ${Buffer.from('fleet:s3cret').toString('base64')}`;

/** What each server saw: path and Authorization header. */
const seen: Array<{ server: string; url: string; auth: string | undefined }> = [];
let plain: http.Server;
let other: http.Server;
let secure: https.Server;
let base: string;
let otherBase: string;
let secureBase: string;
let ca: Buffer;

function routes(name: string, target: () => string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = req.url ?? '';
    seen.push({ server: name, url, auth: req.headers.authorization });
    const hop = /^\/hop\/(\d+)$/.exec(url);
    if (hop) {
      const n = Number(hop[1]);
      res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/model.onnx' });
      return res.end();
    }
    if (url === '/model.onnx') {
      res.writeHead(200, { 'content-length': MODEL.length });
      return res.end(MODEL);
    }
    if (url === '/private.onnx') {
      if (req.headers.authorization !== AUTH) return res.writeHead(401).end();
      res.writeHead(200, { 'content-length': MODEL.length });
      return res.end(MODEL);
    }
    if (url === '/to-private') return res.writeHead(307, { location: '/private.onnx' }).end();
    if (url === '/elsewhere') return res.writeHead(301, { location: `${target()}/model.onnx` }).end();
    if (url === '/to-file') return res.writeHead(302, { location: 'file:///etc/passwd' }).end();
    if (url === '/no-location') return res.writeHead(302).end();
    if (url === '/endless-redirect') {
      // A redirect whose body never ends: it must not hold the download.
      res.writeHead(302, { location: '/model.onnx' });
      const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024)), 5);
      res.on('close', () => clearInterval(timer));
      return;
    }
    res.writeHead(404).end();
  };
}

const listen = (s: http.Server | https.Server) =>
  new Promise<string>((r) => s.listen(0, '127.0.0.1', () => r(String((s.address() as AddressInfo).port))));

beforeAll(async () => {
  const certs = tmp();
  execFileSync('sh', [path.join(REPO, 'deploy/mosquitto/gen-certs.sh'), certs, 'localhost'], {
    stdio: 'pipe',
  });
  ca = readFileSync(path.join(certs, 'ca.crt'));
  plain = http.createServer(routes('plain', () => otherBase));
  other = http.createServer(routes('other', () => base));
  secure = https.createServer(
    { key: readFileSync(path.join(certs, 'server.key')), cert: readFileSync(path.join(certs, 'server.crt')) },
    // From https: "elsewhere" is the plain http server (a downgrade).
    routes('secure', () => base),
  );
  base = `http://127.0.0.1:${await listen(plain)}`;
  otherBase = `http://127.0.0.1:${await listen(other)}`;
  secureBase = `https://127.0.0.1:${await listen(secure)}`;
});
afterAll(async () => {
  for (const s of [plain, other, secure]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const job = (url: string) => ({
  url,
  file: path.join(tmp(), 'part'),
  bytes: MODEL.length,
  sha256: SHA,
  idleTimeoutMs: 2000,
  deadlineMs: 20_000,
  ca,
});

describe('deployment download: redirects', () => {
  it(`follows up to ${MAX_REDIRECTS} redirects (relative Location) to the verified file`, async () => {
    const j = job(`${base}/hop/${MAX_REDIRECTS - 1}`);
    await downloadVerified(j);
    expect(readFileSync(j.file).equals(MODEL)).toBe(true);
  });

  it("a redirect's body is not read (an endless one does not hold the download)", async () => {
    const j = { ...job(`${base}/endless-redirect`), deadlineMs: 5000 };
    await downloadVerified(j);
    expect(readFileSync(j.file).equals(MODEL)).toBe(true);
  });

  it(`refuses a chain longer than ${MAX_REDIRECTS}`, async () => {
    const err = await downloadVerified(job(`${base}/hop/${MAX_REDIRECTS}`)).catch((e) => e);
    expect(err.message).toMatch(new RegExp(`download: more than ${MAX_REDIRECTS} redirects`));
    expect(err.retryable).toBe(false);
  });

  it('refuses https → http (a downgrade), follows https → https', async () => {
    const err = await downloadVerified(job(`${secureBase}/elsewhere`)).catch((e) => e);
    expect(err.message).toMatch(/redirect from https to http refused/);
    await expect(downloadVerified(job(`${secureBase}/hop/1`))).resolves.toBeUndefined();
  });

  it('refuses other schemes and a redirect without Location', async () => {
    expect((await downloadVerified(job(`${base}/to-file`)).catch((e) => e)).message).toMatch(
      /redirect to file: refused/,
    );
    expect((await downloadVerified(job(`${base}/no-location`)).catch((e) => e)).message).toMatch(
      /redirect without a Location/,
    );
  });

  it('credentials in the URL: kept on the same origin, not sent to another one, never in a message', async () => {
    const withCredentials = (u: string) => u.replace('http://', 'http://fleet:s3cret@');
    seen.length = 0;
    await downloadVerified(job(withCredentials(`${base}/to-private`)));
    expect(seen.map((s) => [s.url, s.auth])).toEqual([
      ['/to-private', AUTH],
      ['/private.onnx', AUTH],
    ]);
    seen.length = 0;
    await downloadVerified(job(withCredentials(`${base}/elsewhere`)));
    expect(seen).toEqual([
      { server: 'plain', url: '/elsewhere', auth: AUTH },
      { server: 'other', url: '/model.onnx', auth: undefined },
    ]);
    const err = await downloadVerified(job(withCredentials(`${base}/missing.onnx?token=t0k3n`))).catch(
      (e) => e,
    );
    expect(err.message).toMatch(/HTTP 404 from http:\/\/127\.0\.0\.1:\d+\/missing\.onnx$/);
    expect(err.message).not.toMatch(/s3cret|t0k3n|fleet:/);
    // The command audit stores deploy-model's params redacted: the signed manifest's URL included.
    const params = { manifest: { payload: JSON.stringify({ url: withCredentials(`${base}/m.onnx`) }) } };
    expect(JSON.stringify(redactSecrets(params))).not.toContain('s3cret');
  });

  it('redirectTarget is pure: hops, schemes, downgrade', () => {
    const from = new URL('https://a.example/x');
    expect(redirectTarget(from, '/y', 0)).toMatchObject({ ok: true });
    expect(redirectTarget(from, 'https://b.example/y', MAX_REDIRECTS)).toMatchObject({ ok: false });
    expect(redirectTarget(from, 'http://b.example/y', 0)).toMatchObject({ ok: false });
    expect(redirectTarget(new URL('http://a.example/x'), 'https://b.example/y', 0)).toMatchObject({
      ok: true,
    });
  });
});
