import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { main } from '../../../src/cli/main.js';
import { parseConfig } from '../../../src/config/index.js';
import { forbiddenChanges } from '../../../src/config/protected-keys.js';
import { redactSecrets } from '../../../src/config/redact.js';
import { buildKeyRing, verifySigned } from '../../../src/trust/envelope.js';

function streams() {
  const out = new PassThrough();
  const err = new PassThrough();
  const text = { out: '', err: '' };
  out.on('data', (d) => (text.out += d));
  err.on('data', (d) => (text.err += d));
  return { out, err, text };
}

async function cli(args: string[], cwd: string) {
  const s = streams();
  const code = await main(args, { env: {}, cwd, stdout: s.out, stderr: s.err });
  return { code, ...s.text };
}

describe('edge-agent keys / sign', () => {
  it('generates a 0600 private key, signs a manifest, and a device with the printed entry verifies it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-keys-'));
    const gen = await cli(['keys', 'generate', '--out', 'ops', '--json'], dir);
    expect(gen.code).toBe(0);
    const out = JSON.parse(gen.out) as {
      privateFile: string;
      keyId: string;
      trustKey: { name: string; key: string };
    };
    expect(statSync(out.privateFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(out.privateFile, 'utf8')).toMatch(/BEGIN PRIVATE KEY/);
    expect(gen.out).not.toMatch(/PRIVATE/);

    // Refuses to overwrite an existing key without --force.
    expect((await cli(['keys', 'generate', '--out', 'ops'], dir)).code).toBe(2);

    writeFileSync(path.join(dir, 'm.json'), JSON.stringify({ model: 'm', version: 2 }));
    const signed = await cli(['sign', 'm.json', '--key', 'ops.key'], dir);
    expect(signed.code).toBe(0);
    const doc = JSON.parse(signed.out);
    expect(doc.keyId).toBe(out.keyId);

    const config = parseConfig({ trust: { keys: [out.trustKey] } });
    const ring = buildKeyRing(config.trust);
    const v = verifySigned(
      'deploy-manifest',
      doc,
      ring.keys,
      z.object({ model: z.string(), version: z.number() }),
    );
    expect(v).toMatchObject({ ok: true, value: { model: 'm', version: 2 } });
    // The same signature is not a command signature.
    expect(verifySigned('command', doc, ring.keys, z.unknown()).ok).toBe(false);
  });

  it('sign refuses a non-JSON file and an unreadable key without printing key material', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-keys-'));
    await cli(['keys', 'generate', '--out', 'k'], dir);
    writeFileSync(path.join(dir, 'bad.json'), 'not json');
    expect((await cli(['sign', 'bad.json', '--key', 'k.key'], dir)).code).toBe(2);
    writeFileSync(path.join(dir, 'ok.json'), '{}');
    const r = await cli(['sign', 'ok.json', '--key', 'k.pub'], dir);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not a private key/);
    expect(r.err).not.toMatch(/BEGIN/);
  });

  it('fleet deploy refuses a missing or unsigned manifest with exit 2 before connecting', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-keys-'));
    writeFileSync(path.join(dir, 'plain.json'), JSON.stringify({ model: 'm' }));
    const url = ['--url', 'mqtt://127.0.0.1:9'];
    const missing = await cli(['fleet', 'deploy', 'cam-1', 'nope.json', ...url], dir);
    expect(missing.code).toBe(2);
    const unsigned = await cli(['fleet', 'deploy', 'cam-1', 'plain.json', ...url], dir);
    expect(unsigned.code).toBe(2);
    expect(unsigned.err).toMatch(/not a signed manifest/);
    expect((await cli(['fleet', 'deploy', 'cam-1', ...url], dir)).code).toBe(2);
  });

  it('trust keys are redacted from printed config and cannot be changed over MQTT', () => {
    const config = parseConfig({ trust: { keys: [{ name: 'ops', key: 'A'.repeat(60) }] } });
    const shown = JSON.stringify(redactSecrets(config));
    expect(shown).not.toContain('A'.repeat(60));
    expect(shown).toContain('"name":"ops"');
    expect(forbiddenChanges({ trust: { requireSignedCommands: false } })).toEqual([
      { key: 'trust', reason: expect.any(String) },
    ]);
  });
});
