import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkFreeSpace, downloadVerified, freeBytes } from '../../../src/fleet/deploy/download.js';
import { inspectDeployedModel } from '../../../src/fleet/deploy/inspect.js';
import { checkDeployManifest, type DeployManifest } from '../../../src/fleet/deploy/manifest.js';
import { outputMismatch, validateInChild } from '../../../src/fleet/deploy/validate.js';
import { decodeModel, encodeModel, proto } from '../../../src/optimize/onnx/onnx-io.js';
import { trustSchemas } from '../../../src/trust/config.js';
import { buildKeyRing } from '../../../src/trust/envelope.js';
import { generateKeys, parsePrivateKey, signPayload } from '../../../src/trust/keys.js';
import { MODEL, modelServer, rangeStart, SHA, sendModel } from './support.js';

const tmp = () => mkdtempSync(path.join(tmpdir(), 'ea-deploy-'));

/** A real HTTP server with a behaviour per path. */
let server: Awaited<ReturnType<typeof modelServer>>;
let base: string;
const ranges: string[] = [];
beforeAll(async () => {
  server = await modelServer(
    {
      '/model.onnx': (req, res) => sendModel(res, { from: rangeStart(req) }),
      '/truncated.onnx': (_req, res) => {
        sendModel(res, { only: 100_000 });
        setTimeout(() => res.destroy(), 50);
      },
      '/stalled.onnx': (_req, res) => sendModel(res, { only: 1000 }), // then nothing
      '/larger.onnx': (_req, res) => {
        res.writeHead(200); // chunked: no length announced
        res.write(MODEL);
        res.end(Buffer.alloc(5000));
      },
      '/other.onnx': (_req, res) => {
        const other = Buffer.from(MODEL);
        other.writeUInt8(other.readUInt8(other.length - 1) ^ 0xff, other.length - 1);
        sendModel(res, { bytes: other });
      },
    },
    { onRequest: (req) => req.headers.range && ranges.push(String(req.headers.range)) },
  );
  base = server.base;
});
afterAll(() => server.close());

const job = (dir: string, name: string, over: Partial<Parameters<typeof downloadVerified>[0]> = {}) => ({
  url: `${base}/${name}`,
  file: path.join(dir, 'part'),
  bytes: MODEL.length,
  sha256: SHA,
  idleTimeoutMs: 1000,
  deadlineMs: 20_000,
  ...over,
});

describe('deployment download', () => {
  it('downloads and verifies; progress reaches the total', async () => {
    const dir = tmp();
    let last = 0;
    await downloadVerified({ ...job(dir, 'model.onnx'), onProgress: (n) => (last = n) });
    expect(readFileSync(path.join(dir, 'part')).equals(MODEL)).toBe(true);
    expect(last).toBe(MODEL.length);
  });

  it('resumes a partial file with a Range request', async () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'part'), MODEL.subarray(0, 300_000));
    ranges.length = 0;
    await downloadVerified(job(dir, 'model.onnx'));
    expect(ranges).toEqual(['bytes=300000-']);
    expect(readFileSync(path.join(dir, 'part')).equals(MODEL)).toBe(true);
  });

  it('a truncated body fails as retryable and keeps the partial file for resuming', async () => {
    const dir = tmp();
    const err = await downloadVerified(job(dir, 'truncated.onnx')).catch((e) => e);
    expect(err.message).toMatch(/download: truncated/);
    expect(err.retryable).toBe(true);
    expect(statSync(path.join(dir, 'part')).size).toBe(100_000);
  });

  it('a stalled server fails after the idle timeout', async () => {
    const dir = tmp();
    const err = await downloadVerified(job(dir, 'stalled.onnx', { idleTimeoutMs: 300 })).catch((e) => e);
    expect(err.message).toMatch(/stalled/);
  });

  it('a body larger than declared is cut off and discarded', async () => {
    const dir = tmp();
    const err = await downloadVerified(job(dir, 'larger.onnx')).catch((e) => e);
    expect(err.message).toMatch(/larger than the declared/);
    expect(existsSync(path.join(dir, 'part'))).toBe(false);
  });

  it('a sha256 mismatch deletes the file', async () => {
    const dir = tmp();
    const err = await downloadVerified(job(dir, 'other.onnx')).catch((e) => e);
    expect(err.message).toMatch(/checksum: sha256 mismatch/);
    expect(existsSync(path.join(dir, 'part'))).toBe(false);
  });

  it('refuses a model that does not fit the free space (statfs of the real filesystem)', async () => {
    const dir = tmp();
    const free = await freeBytes(dir);
    await expect(checkFreeSpace(dir, free + 1)).rejects.toThrow(/space: .* KiB needed/);
    await expect(checkFreeSpace(dir, 1024)).resolves.toBeUndefined();
  });

  it('an HTTP error is reported with its status', async () => {
    const err = await downloadVerified(job(tmp(), 'missing.onnx')).catch((e) => e);
    expect(err.message).toMatch(/HTTP 404/);
  });
});

describe('deployment manifest', () => {
  const ops = generateKeys();
  const viewer = generateKeys();
  const stranger = generateKeys();
  const keys = buildKeyRing(
    trustSchemas().trustSchema.parse({
      keys: [
        { name: 'ops', key: ops.publicBase64 },
        { name: 'viewer', key: viewer.publicBase64, allow: ['get-status'] },
      ],
    }),
  ).keys;
  const now = Date.parse('2026-11-30T00:00:00Z');
  const manifest = (over: Partial<DeployManifest> = {}) => ({
    model: 'ultraface',
    variant: 'slim',
    version: 3,
    url: `http://example.invalid/m.onnx`,
    sha256: SHA,
    bytes: MODEL.length,
    target: ['cam-1', 'cam-2'],
    expires: '2026-12-01T00:00:00Z',
    outputs: [{ name: 'scores', shape: [1, null, 2] }],
    ...over,
  });
  const check = (doc: ReturnType<typeof signPayload>) =>
    checkDeployManifest(doc, {
      deviceId: 'cam-1',
      keys,
      nowMs: now,
      clockSkewMs: 60_000,
      installedVersion: () => 2,
    });
  const sign = (m: object, pem = ops.privatePem) =>
    signPayload('deploy-manifest', JSON.stringify(m), parsePrivateKey(pem));

  it('accepts a signed manifest for this device with a higher version', () => {
    expect(check(sign(manifest()))).toMatchObject({ ok: true, signedBy: 'ops', manifest: { version: 3 } });
  });
  const cases: Array<[string, () => ReturnType<typeof signPayload>, RegExp]> = [
    [
      'bad signature',
      () => ({ ...sign(manifest()), payload: JSON.stringify(manifest({ version: 9 })) }),
      /bad signature/,
    ],
    ['unknown key', () => sign(manifest(), stranger.privatePem), /unknown signing key/],
    ['key not allowed to deploy', () => sign(manifest(), viewer.privatePem), /may not sign deployments/],
    ['expired', () => sign(manifest({ expires: '2026-11-29T00:00:00Z' })), /expired/],
    ['wrong target', () => sign(manifest({ target: 'cam-7' })), /not addressed to cam-1/],
    ['same version', () => sign(manifest({ version: 2 })), /already installed/],
    ['downgrade', () => sign(manifest({ version: 1 })), /downgrade refused/],
    ['non-http url', () => sign(manifest({ url: 'file:///etc/passwd' })), /url/],
  ];
  for (const [name, doc, reason] of cases) {
    it(`refuses: ${name}`, () => {
      const v = check(doc());
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).toMatch(reason);
    });
  }
  it('a signed downgrade is accepted', () => {
    expect(check(sign(manifest({ version: 1, downgrade: true }))).ok).toBe(true);
  });
});

describe('deployed model inspection and validation', () => {
  const model = () => decodeModel(MODEL);

  it('refuses external data pointing at ../../etc/passwd', () => {
    const m = model();
    const t = m.graph!.initializer![0]!;
    t.dataLocation = 1;
    t.externalData = [proto.StringStringEntryProto.create({ key: 'location', value: '../../etc/passwd' })];
    t.rawData = new Uint8Array();
    expect(() => inspectDeployedModel(encodeModel(m), 'm.onnx')).toThrow(/external data/);
  });

  it('refuses an unknown operator domain', () => {
    const m = model();
    m.opsetImport.push(proto.OperatorSetIdProto.create({ domain: 'evil.custom', version: 1 }));
    expect(() => inspectDeployedModel(encodeModel(m), 'm.onnx')).toThrow(
      /unknown operator domain "evil.custom"/,
    );
  });

  it('refuses absurd declared tensor sizes', () => {
    const m = model();
    m.graph!.initializer![0]!.dims = [100_000, 100_000, 100];
    expect(() => inspectDeployedModel(encodeModel(m), 'm.onnx')).toThrow(/absurd|declares/);
  });

  it('refuses a file that is not a model', () => {
    expect(() => inspectDeployedModel(Buffer.from('<html>hello</html>'), 'm.onnx')).toThrow(/inspect:/);
  });

  it('accepts the real model', () => {
    expect(inspectDeployedModel(MODEL, 'm.onnx').nodes).toBeGreaterThan(10);
  });

  it('validates in a child process: outputs with names and shapes', async () => {
    const dir = tmp();
    const file = path.join(dir, 'm.onnx');
    writeFileSync(file, MODEL);
    const r = await validateInChild(file, { timeoutMs: 60_000, maxHeapMB: 256 });
    const scores = r.outputs.find((o) => o.name === 'scores');
    expect(scores?.shape).toEqual([1, 4420, 2]);
    expect(outputMismatch(r.outputs, [{ name: 'scores', shape: [1, null, 2] }])).toBeUndefined();
    expect(outputMismatch(r.outputs, [{ name: 'scores', shape: [1, 100, 2] }])).toMatch(
      /has shape \[1, 4420, 2\]/,
    );
    expect(outputMismatch(r.outputs, [{ name: 'logits', shape: [1, 1000] }])).toMatch(/missing/);
  });

  it('a model onnxruntime cannot load fails in the child, the test process (the agent) lives on', async () => {
    const m = model();
    m.graph!.node![0]!.opType = 'NoSuchOperator';
    const file = path.join(tmp(), 'bad.onnx');
    writeFileSync(file, encodeModel(m));
    await expect(validateInChild(file, { timeoutMs: 60_000, maxHeapMB: 256 })).rejects.toThrow(
      /validate: onnxruntime refused the model/,
    );
  });

  it('a validation that exceeds its time limit is killed', async () => {
    const file = path.join(tmp(), 'm.onnx');
    writeFileSync(file, MODEL);
    await expect(validateInChild(file, { timeoutMs: 1, maxHeapMB: 256 })).rejects.toThrow(/within 1 ms/);
  });
});
