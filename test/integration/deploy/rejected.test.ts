import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployDevice, MODEL, modelServer, rangeStart, sendModel, signedManifest } from './support.js';

/**
 * Broken downloads through the whole deployer (the download function alone is tested in
 * steps.test.ts): each is refused with the previous model still serving, nothing at the active
 * path, and a clear `failed` event.
 */
const ranges: Array<string | undefined> = [];
let truncateNext = true;
let server: Awaited<ReturnType<typeof modelServer>>;
beforeAll(async () => {
  server = await modelServer({
    '/truncated.onnx': (req, res) => {
      ranges.push(req.headers.range);
      if (!truncateNext) return sendModel(res, { from: rangeStart(req) });
      truncateNext = false;
      sendModel(res, { from: rangeStart(req), only: 300_000 });
      setTimeout(() => res.destroy(), 50);
    },
    '/stalled.onnx': (_req, res) => sendModel(res, { only: 1000 }), // then nothing
    '/larger.onnx': (_req, res) => {
      res.writeHead(200); // chunked: the size shows only as the bytes arrive
      res.write(MODEL);
      res.end(Buffer.alloc(5000));
    },
    '/larger-announced.onnx': (_req, res) => {
      res.writeHead(200, { 'content-length': MODEL.length + 5000 });
      res.end(Buffer.concat([MODEL, Buffer.alloc(5000)]));
    },
  });
});
afterAll(() => server.close());

async function refused(name: string, idleTimeoutMs = 2000) {
  const d = await deployDevice({ idleTimeoutMs });
  const update = await d.deployer.start(signedManifest({ url: `${server.base}/${name}` })).done;
  expect(update).toMatchObject({ state: 'failed', installedVersion: 0 });
  expect(d.active()).toEqual({ model: 'ultraface', variant: 'slim-320' });
  expect(existsSync(path.join(d.installDir, 'slim-v2.onnx'))).toBe(false);
  expect(() => d.catalog().variant('ultraface', 'slim-v2')).toThrow();
  expect(d.events.at(-1)).toEqual({ state: 'failed', error: update.error });
  return { d, update, part: path.join(d.dataDir, 'deploy/ultraface-slim-v2.part') };
}

describe('a deployment with a broken download is refused; the previous model serves', () => {
  it('truncated body: failed (retryable, the partial file kept); sent again, it resumes with Range and commits', async () => {
    const { d, update, part } = await refused('truncated.onnx');
    expect(update.error).toMatch(/download: truncated/);
    expect(statSync(part).size).toBe(300_000);
    ranges.length = 0;
    const again = await d.deployer.start(signedManifest({ url: `${server.base}/truncated.onnx` })).done;
    expect(again).toMatchObject({ state: 'committed', installedVersion: 2 });
    expect(ranges).toEqual(['bytes=300000-']);
  });

  it('stalled server: failed after the idle timeout', async () => {
    const { update } = await refused('stalled.onnx', 300);
    expect(update.error).toMatch(/download: no data for 300 ms \(stalled\)/);
  });

  it('body larger than declared (chunked): cut off, the partial file discarded', async () => {
    const { update, d } = await refused('larger.onnx');
    expect(update.error).toMatch(/download: body larger than the declared \d+ bytes/);
    expect(readdirSync(path.join(d.dataDir, 'deploy'))).toEqual([]);
  });

  it('body larger than declared (announced by Content-Length): refused before writing', async () => {
    const { update, d } = await refused('larger-announced.onnx');
    expect(update.error).toMatch(/download: server announces \d+ bytes, the manifest \d+/);
    expect(readdirSync(path.join(d.dataDir, 'deploy'))).toEqual([]);
  });
});
