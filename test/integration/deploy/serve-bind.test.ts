import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { serveModel } from '../../../src/cli/fleet-deploy.js';
import { freePort } from '../../helpers/mosquitto.js';

function ctx() {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-serve-'));
  writeFileSync(path.join(dir, 'm.onnx'), Buffer.alloc(1000, 7));
  const stderr = new PassThrough();
  let err = '';
  stderr.on('data', (d) => (err += d));
  return { c: { argv: [], env: {}, cwd: dir, stdout: new PassThrough(), stderr }, err: () => err };
}

const get = (url: string) =>
  new Promise<number>((resolve, reject) =>
    http
      .get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject),
  );

/** `fleet deploy --serve` listens where the devices were told to connect, not on every interface. */
describe('fleet deploy --serve: the listening address', () => {
  it("binds the manifest URL's host by default", async () => {
    const { c, err } = ctx();
    const port = await freePort();
    const server = await serveModel(c, 'm.onnx', `http://127.0.0.1:${port}/models/m.onnx`, 1000);
    try {
      expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
      expect(await get(`http://127.0.0.1:${port}/models/m.onnx`)).toBe(200);
      expect(err()).toContain(`serving m.onnx on 127.0.0.1:${port}/models/m.onnx`);
    } finally {
      server.close();
    }
  });

  it('a manifest host that is not this machine: a usage error asking for --bind; with --bind it serves there', async () => {
    const { c } = ctx();
    const port = await freePort();
    // TEST-NET-1 (RFC 5737): never an address of this machine.
    const url = `http://192.0.2.10:${port}/m.onnx`;
    await expect(serveModel(c, 'm.onnx', url, 1000)).rejects.toThrow(
      /cannot listen on 192\.0\.2\.10:\d+ \(EADDRNOTAVAIL\).*pass --bind ADDR/,
    );
    const server = await serveModel(c, 'm.onnx', url, 1000, '127.0.0.1');
    try {
      expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
      expect(await get(`http://127.0.0.1:${port}/m.onnx`)).toBe(200);
    } finally {
      server.close();
    }
  });
});
