import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { machineIdFrom, resolveDeviceId, sanitizeDeviceId } from '../../../src/config/device-id.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A fixture root with the given machine-id files. */
function root(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-machine-id-'));
  roots.push(dir);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
  return dir;
}

const hostFallback = sanitizeDeviceId(os.hostname()) ?? 'edge-agent';
const ID = '0123456789abcdef0123456789abcdef';

describe('machineIdFrom', () => {
  it.each([
    ['uninitialized\n', undefined],
    ['UNINITIALIZED', undefined],
    ['  uninitialized  \n', undefined],
    ['', undefined],
    ['\n', undefined],
    [`${ID}\n`, ID],
  ])('%j -> %s', (text, expected) => {
    expect(machineIdFrom(text)).toBe(expected);
  });
});

describe('resolveDeviceId with a machine id of "uninitialized" (systemd, early first boot)', () => {
  it('treats it as absent: falls back to the host name, as with no machine-id file', () => {
    const early = root({ 'etc/machine-id': 'uninitialized\n' });
    expect(resolveDeviceId(undefined, early)).toBe(hostFallback);
    expect(resolveDeviceId(undefined, root({}))).toBe(hostFallback);
  });

  it('falls back to the D-Bus machine id when that one is real', () => {
    const r = root({ 'etc/machine-id': 'uninitialized\n', 'var/lib/dbus/machine-id': `${ID}\n` });
    expect(resolveDeviceId(undefined, r)).toBe(ID);
  });

  it('a configured id still wins', () => {
    expect(resolveDeviceId('cam-9', root({ 'etc/machine-id': 'uninitialized\n' }))).toBe('cam-9');
  });
});
