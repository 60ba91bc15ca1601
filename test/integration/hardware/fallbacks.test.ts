import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import * as si from 'systeminformation';
import { describe, expect, it } from 'vitest';
import { probeExecutionProviders } from '../../../src/hardware/execution-providers.js';
import { createHost, type Host } from '../../../src/hardware/host.js';
import { readProfile } from '../../../src/hardware/profile.js';
import { readRapl } from '../../../src/hardware/readers/power.js';
import { fixtureRoot } from '../../helpers/hardware.js';

describe('systeminformation fallback (hosts without procfs)', () => {
  it('fills CPU, memory and OS from systeminformation when /proc is absent', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'edge-agent-noproc-'));
    try {
      const p = await readProfile({
        root,
        systemInformation: si,
        probeExecutionProviders: () => probeExecutionProviders(),
      });
      expect(p.memory.totalBytes).toBe(os.totalmem());
      expect(p.memory.effectiveBudgetBytes).toBe(os.totalmem());
      expect(p.cpu.cores).toBe(os.cpus().length);
      expect(p.cpu.arch).toBe(process.arch === 'x64' ? 'x86_64' : 'aarch64');
      expect(p.board.family).toBe(process.arch === 'x64' ? 'x86' : 'arm');
      expect(p.os.kernel).toBe(os.release());
      const fields = p.unavailable.map((u) => u.field);
      for (const filled of ['cpu', 'memory', 'os.kernel']) expect(fields).not.toContain(filled);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('RAPL permissions', () => {
  it('explains a root-only energy_uj and how to fix it', async () => {
    const real = createHost({ root: fixtureRoot('x86-laptop') });
    // sysfs permissions cannot be reproduced in a tree when tests run as root: deny this one file.
    const host: Host = {
      ...real,
      readText: async (f) =>
        f === '/sys/class/powercap/intel-rapl:0/energy_uj'
          ? { ok: false, reason: `${f}: permission denied` }
          : real.readText(f),
    };
    const missing: Array<[string, string]> = [];
    const sensors = await readRapl(host, (field, reason) => missing.push([field, reason]));
    expect(sensors.map((s) => s.name)).toEqual(['psys']);
    expect(missing).toEqual([
      [
        'power.sensors.intel-rapl:0',
        '/sys/class/powercap/intel-rapl:0/energy_uj: permission denied (root-only since Linux 5.10: run as root or grant read access with a udev rule)',
      ],
    ]);
  });
});
