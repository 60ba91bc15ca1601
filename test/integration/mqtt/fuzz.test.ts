import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { HarnessProcess, Observer, request, waitUntil } from './support.js';

const run = requireMosquitto();
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

describe.runIf(run)('command fuzzing over MQTT (fast-check, real broker, agent process)', () => {
  it('random bytes, deep JSON, wrong types, oversize: an error each, no state change, memory bounded', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const db = path.join(mkdtempSync(path.join(tmpdir(), 'ea-fuzz-')), 'a.db');
    const device = await HarnessProcess.start({
      db,
      deviceId: 'fuzz',
      intervalS: 60,
      produce: false,
      mqtt: { url: broker.url, commands: { maxPayloadBytes: 8192 } },
    });
    cleanups.push(async () => {
      device.kill('SIGKILL');
      await device.exited;
    });
    const o = await Observer.connect(broker.url, {}, ['edge-agent/fuzz/response/+']);
    cleanups.push(() => o.close());
    await waitUntil(
      async () => (await request(o, 'edge-agent', 'fuzz', 'ping').catch(() => undefined)) !== undefined,
      10_000,
    );
    o.messages.length = 0;
    const pid = device.child.pid!;
    const rssBefore = rssKb(pid);

    const command = fc.constantFrom(
      'set-fps',
      'set-model',
      'set-config',
      'restart',
      'derive',
      'no-such-command',
    );
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([Buffer.from([0]), b])),
      fc.integer({ min: 1000, max: 20_000 }).map((d) => Buffer.from(`${'['.repeat(d)}${']'.repeat(d)}`)),
      fc.integer({ min: 8193, max: 60_000 }).map((n) => Buffer.alloc(n, 0x20 + (n % 90))),
      fc
        .record({ fps: fc.anything(), variant: fc.anything(), patch: fc.anything(), reason: fc.anything() })
        .map((o) => Buffer.from(JSON.stringify({ ...o, surprise: true }) ?? '{}')),
    );
    const cases = fc.sample(fc.tuple(command, payload), { numRuns: 150, seed: 6 });
    for (const [c, p] of cases) await o.client.publishAsync(`edge-agent/fuzz/request/${c}`, p, { qos: 1 });
    await waitUntil(
      () => o.messages.length >= cases.length,
      20_000,
      () => `${o.messages.length}/${cases.length} answered`,
    );
    const answers = o.messages.map(
      (m) => JSON.parse(m.payload.toString()) as { status: string; error?: string },
    );
    expect(answers.every((a) => a.status === 'error' && typeof a.error === 'string')).toBe(true);

    // No state change: nothing was switched, and the agent still answers.
    expect(device.lines.filter((l) => l.changed !== undefined || l.restarting)).toEqual([]);
    expect((await request(o, 'edge-agent', 'fuzz', 'get-status')).data).toMatchObject({
      fps: 2,
      variant: 'fp32',
    });
    expect(device.child.exitCode).toBeNull();
    expect(rssKb(pid) - rssBefore).toBeLessThan(96 * 1024);
    const audit = new Database(db, { readonly: true });
    const errors = audit.prepare("SELECT count(*) AS n FROM command_audit WHERE status = 'error'").get() as {
      n: number;
    };
    audit.close();
    expect(errors.n).toBe(cases.length);
  });
});
