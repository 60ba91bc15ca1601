import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { FIXTURES, REPO } from '../../helpers/paths.js';

interface DoctorJson {
  status: 'ok' | 'warn' | 'fail';
  exitCode: 0 | 1 | 2;
  checks: Array<{ id: string; status: 'ok' | 'warn' | 'fail'; summary: string; fix?: string }>;
}

const IDS = [
  'config',
  'camera',
  'ffmpeg',
  'broker',
  'clock',
  'disk',
  'memory',
  'throttling',
  'providers',
  'service',
];

function configFile(extra: Record<string, unknown>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-doctor-'));
  const file = path.join(dir, 'agent.config.json');
  writeFileSync(file, JSON.stringify({ dataDir: path.join(dir, 'data'), ...extra }));
  return file;
}

async function doctor(args: string[]): Promise<{ code: number | null; json: DoctorJson }> {
  const run = await runCli(['doctor', '--json', ...args], { timeoutMs: 120_000 });
  expect(run.stderr).not.toMatch(/internal error/);
  return { code: run.code, json: JSON.parse(run.stdout) as DoctorJson };
}

const check = (json: DoctorJson, id: string) => json.checks.find((c) => c.id === id)!;

describe('edge-agent doctor on this machine', () => {
  it('--json: every check with a status, a summary and a fix unless ok; exit code from the worst', async () => {
    const { code, json } = await doctor(['--config', path.join(REPO, 'agent.config.json')]);
    expect(json.checks.map((c) => c.id)).toEqual(IDS);
    for (const c of json.checks) {
      expect(['ok', 'warn', 'fail']).toContain(c.status);
      expect(c.summary.length).toBeGreaterThan(0);
      if (c.status !== 'ok') expect(c.fix, c.id).toMatch(/\S/);
      else expect(c.fix).toBeUndefined();
    }
    const worst = json.checks.some((c) => c.status === 'fail')
      ? 2
      : json.checks.some((c) => c.status === 'warn')
        ? 1
        : 0;
    expect(json.exitCode).toBe(worst);
    expect(code).toBe(worst);
    expect(json.status).toBe(['ok', 'warn', 'fail'][worst]);
    // The shipped config runs on the sample photos: no camera here, said as a warning with a fix.
    expect(check(json, 'camera')).toMatchObject({
      status: 'warn',
      summary: expect.stringMatching(/^no camera: the agent runs on images:/),
    });
    expect(check(json, 'broker').status).toBe('ok');
    expect(check(json, 'providers').summary).toMatch(/loaded: .*cpu/);
  }, 150_000);

  it('reports a configured camera that is missing as a failure (exit 2) with the fix', async () => {
    const { code, json } = await doctor(['--config', configFile({ camera: { source: 'v4l2:/dev/video7' } })]);
    expect(code).toBe(2);
    expect(check(json, 'camera')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/^camera \/dev\/video7 not found/),
      fix: expect.stringMatching(/plug the camera in/),
    });
  }, 150_000);

  it('detects the container (this machine runs in one) and does not ask for systemd', async () => {
    const { json } = await doctor(['--config', configFile({})]);
    const service = check(json, 'service');
    // This test machine is a Docker container; elsewhere the check must say systemd is missing or the unit state.
    const inContainer = (await import('node:fs')).existsSync('/.dockerenv');
    if (inContainer)
      expect(service).toMatchObject({
        status: 'ok',
        summary: expect.stringMatching(/^in a container \(docker\)/),
      });
    else expect(service.summary).toMatch(/systemd|edge-agent\.service/);
  }, 150_000);

  it('an unreachable broker fails; under-voltage on the Raspberry Pi 4 fixture is reported', async () => {
    const { code, json } = await doctor([
      '--config',
      configFile({ mqtt: { url: 'mqtt://127.0.0.1:1' } }),
      '--root',
      path.join(FIXTURES, 'hardware/raspberry-pi-4'),
    ]);
    expect(code).toBe(2);
    expect(check(json, 'broker')).toMatchObject({
      status: 'fail',
      summary: expect.stringMatching(/^mqtt:\/\/127\.0\.0\.1:1: /),
    });
    // The fixture's vcgencmd says throttled=0x50000: under-voltage and throttling since boot.
    expect(check(json, 'throttling')).toMatchObject({
      status: 'warn',
      summary: 'under-voltage since boot (throttled=0x50000)',
      fix: expect.stringMatching(/power supply/),
    });
  }, 150_000);
});
