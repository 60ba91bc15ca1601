import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { runCli } from '../../helpers/cli.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { HarnessProcess, Observer, waitUntil } from './support.js';

const run = requireMosquitto();

describe.runIf(run)('edge-agent fleet (ls, watch, send) against devices on a real broker', () => {
  let broker: Mosquitto;
  const devices: HarnessProcess[] = [];
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-fleetcli-'));

  beforeAll(async () => {
    broker = await Mosquitto.start();
    for (const [id, groups] of [
      ['cam-1', ['lab']],
      ['cam-2', ['lab', 'door']],
      ['cam-3', ['door']],
    ] as const) {
      devices.push(
        await HarnessProcess.start({
          db: path.join(dir, `${id}.db`),
          deviceId: id,
          intervalS: 0.5,
          produce: true,
          mqtt: { url: broker.url, groups: [...groups] },
        }),
      );
    }
    const o = await Observer.connect(broker.url, {}, ['edge-agent/+/availability']);
    await waitUntil(() => o.messages.filter((m) => m.payload.toString() === 'online').length >= 3, 15_000);
    await o.close();
  });

  afterAll(async () => {
    for (const d of devices) {
      d.kill('SIGKILL');
      await d.exited;
    }
    await broker?.stop();
  });

  /** The CLI in-process (same code path as the binary, without a tsx start-up per call). */
  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const sink = (append: (s: string) => void) =>
      new Writable({
        write(chunk, _enc, done) {
          append(String(chunk));
          done();
        },
      });
    const code = await main(['fleet', ...args, '--url', broker.url], {
      env: { ...process.env },
      cwd: dir,
      stdout: sink((s) => (stdout += s)),
      stderr: sink((s) => (stderr += s)),
    });
    return { code, stdout, stderr };
  }

  it('ls lists every device with availability, model, variant and live figures', async () => {
    const r = await cli('ls', '--json', '--wait', '1');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(rows.map((x) => x.device)).toEqual(['cam-1', 'cam-2', 'cam-3']);
    for (const row of rows) {
      expect(row).toMatchObject({ availability: 'online', model: 'harness-model', variant: 'fp32', fps: 0 });
      expect(typeof row.outboxPending).toBe('number');
    }
    const text = await cli('ls');
    expect(text.stdout).toMatch(/^device\s+status\s+model\s+variant\s+fps/);
    expect(text.stdout).toMatch(/cam-2\s+online\s+harness-model\s+fp32/);
  });

  it('send to a device prints its answer; errors and silence give distinct exit codes', async () => {
    const ok = await cli('send', 'cam-1', 'set-model', '{"variant": "int8"}', '--json');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      status: 'ok',
      device: 'cam-1',
      data: { variant: 'int8', previous: { variant: 'fp32' } },
    });
    await devices[0]!.waitFor((l) => l.changed === 'variant');

    const bad = await cli('send', 'cam-1', 'set-fps', '{"fps": "fast"}', '--json');
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ status: 'error', error: expect.stringContaining('fps') });

    const silent = await cli('send', 'cam-404', 'ping', '--timeout', '1');
    expect(silent.code).toBe(3);
    expect(silent.stderr).toContain('cam-404 is unknown to the broker');
    expect(silent.stderr).toContain('no answer to ping from cam-404 within 1 s');

    const usage = await cli('send', 'cam-1', 'ping', '[1]');
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('JSON parameters must be an object');
  });

  it('send to group:NAME collects one answer per member and returns as soon as all answered', async () => {
    const started = Date.now();
    const r = await cli('send', 'group:door', 'set-fps', '{"fps": 6}', '--json', '--timeout', '20');
    expect(r.code).toBe(0);
    expect(Date.now() - started).toBeLessThan(15_000); // did not sit out the 20 s timeout
    const answers = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(answers.map((a) => a.device).sort()).toEqual(['cam-2', 'cam-3']);
    expect(answers.every((a) => a.status === 'ok')).toBe(true);
  });

  it('watch streams telemetry as a table or JSON lines', async () => {
    const json = await cli('watch', '--json', '--count', '4');
    expect(json.code).toBe(0);
    const lines = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(lines.every((l) => typeof l.deviceId === 'string' && typeof l.fps === 'number')).toBe(true);
    const table = await cli('watch', '--count', '2');
    const rows = table.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^device\s+status\s+model/);
    expect(rows.slice(1).every((l) => /^cam-\d\s+online\s+harness-model/.test(l))).toBe(true);
  });

  it('send --expires: a request waiting for an offline device is dropped once expired, not run later', async () => {
    const o = await Observer.connect(broker.url, {}, [
      'edge-agent/cam-3/request/ping',
      'edge-agent/cam-3/response/ping',
    ]);
    const cam3 = devices[2]!;
    cam3.kill('SIGKILL');
    await cam3.exited;
    const expiring = await cli('send', 'cam-3', 'ping', '--expires', '1', '--timeout', '0.3');
    expect(expiring.code).toBe(3);
    expect(expiring.stderr).toContain('the request waits in its session if it has one for up to 1 s');
    const kept = await cli('send', 'cam-3', 'ping', '--timeout', '0.3');
    expect(kept.code).toBe(3);
    expect(kept.stderr).toContain('--expires S drops it');
    await waitUntil(() => o.on('edge-agent/cam-3/request/ping').length === 2, 5000);
    const [tExpiring, tKept] = o.json('edge-agent/cam-3/request/ping').map((m) => m.transaction);
    await new Promise((r) => setTimeout(r, 2000)); // past the 1 s expiry

    devices[2] = await HarnessProcess.start({
      db: path.join(dir, 'cam-3.db'),
      deviceId: 'cam-3',
      intervalS: 0.5,
      produce: true,
      mqtt: { url: broker.url, groups: ['door'] },
    });
    await waitUntil(
      () => o.json('edge-agent/cam-3/response/ping').some((m) => m.transaction === tKept),
      15_000,
    );
    await new Promise((r) => setTimeout(r, 1000)); // anything else queued would have come by now
    const answered = o.json('edge-agent/cam-3/response/ping').map((m) => m.transaction);
    expect(answered).toEqual([tKept]);
    expect(answered).not.toContain(tExpiring);
    await o.close();

    // Over MQTT 3.1.1 there is no message expiry: refused up front, never silently ignored.
    const config = path.join(dir, 'mqtt311.json');
    writeFileSync(config, JSON.stringify({ mqtt: { protocol: '3.1.1' } }));
    const old = await cli('send', 'cam-3', 'ping', '--expires', '5', '--config', config);
    expect(old.code).toBe(2);
    expect(old.stderr).toContain('--expires needs MQTT 5');
    const bad = await cli('send', 'cam-3', 'ping', '--expires', '1.5');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--expires expects whole seconds');
  });

  it('explains an unreachable broker and bad usage in one line (the real binary)', async () => {
    const down = await runCli(['fleet', 'ls', '--url', 'mqtt://127.0.0.1:1']);
    expect(down.code).toBe(1);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toContain('cannot connect to the MQTT broker mqtt://127.0.0.1:1');
    const usage = await runCli(['fleet', 'frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('expected ls, watch, send, deploy or deployments');
  });
});
