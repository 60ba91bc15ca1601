import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESTART_EXIT_CODE } from '../../../src/agent.js';
import { TSX_LOADER } from '../../helpers/cli.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { REPO } from '../../helpers/paths.js';
import { Observer, request, waitUntil } from './support.js';

const run = requireMosquitto();
const P = 'edge-agent';

describe.runIf(run)('the real agent (edge-agent run) driven over MQTT', () => {
  let broker: Mosquitto;
  let observer: Observer;
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-e2e-'));
  const configFile = path.join(dir, 'agent.config.json');
  let stdout = '';
  let exit: Promise<number | null>;

  beforeAll(async () => {
    broker = await Mosquitto.start();
    writeFileSync(
      configFile,
      JSON.stringify({
        deviceId: 'e2e',
        dataDir: './data',
        models: { dir: path.join(REPO, 'models'), default: 'squeezenet1.1' },
        camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 10 },
        inference: { threads: 1 },
        mqtt: { url: broker.url, groups: ['lab'], results: { mode: 'every', maxPerS: 50 } },
        telemetry: { intervalS: 1 },
      }),
    );
    observer = await Observer.connect(broker.url, {}, [`${P}/e2e/#`]);
    const child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(REPO, 'src/cli.ts'), 'run', '--config', configFile],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stdout += d));
    exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    // Telemetry that covers inferred frames (the pipeline worker starts beside the first intervals).
    await waitUntil(
      () =>
        observer.on(`${P}/e2e/telemetry`).length >= 2 &&
        ((observer.json(`${P}/e2e/telemetry`).at(-1)?.fps as number | undefined) ?? 0) > 0,
      60_000,
      () => stdout.slice(-2000),
    );
  });

  afterAll(async () => {
    await observer?.close();
    await broker?.stop();
  });

  it('publishes retained availability/info, telemetry with stage latencies, and results', () => {
    expect(observer.on(`${P}/e2e/availability`).at(-1)?.payload.toString()).toBe('online');
    const info = observer.json(`${P}/e2e/info`).at(-1)!;
    expect(info).toMatchObject({ deviceId: 'e2e', model: 'squeezenet1.1', variant: 'fp32', groups: ['lab'] });
    const t = observer.json(`${P}/e2e/telemetry`).at(-1)!;
    expect(t).toMatchObject({
      deviceId: 'e2e',
      model: 'squeezenet1.1',
      variant: 'fp32',
      executionProvider: 'cpu',
    });
    expect(t.fps as number).toBeGreaterThan(0);
    expect(t.latencyInferenceP95Ms as number).toBeGreaterThan(0);
    expect(t.latencyTotalP50Ms as number).toBeGreaterThanOrEqual(t.latencyInferenceP50Ms as number);
    const result = observer.json(`${P}/e2e/results`).at(-1)!;
    expect(result).toMatchObject({ model: 'squeezenet1.1', task: 'classification' });
    expect((result.classes as unknown[]).length).toBeGreaterThan(0);
  });

  it('set-model hot-swaps the variant without stopping the pipeline', async () => {
    const r = await request(observer, P, 'e2e', 'set-model', { variant: 'fp16' }, 30_000);
    expect(r).toMatchObject({
      status: 'ok',
      data: { model: 'squeezenet1.1', variant: 'fp16', previous: { variant: 'fp32' } },
    });
    await waitUntil(() => observer.json(`${P}/e2e/results`).some((x) => x.variant === 'fp16'), 15_000);
    await waitUntil(() => observer.json(`${P}/e2e/events`).find((e) => e.type === 'model-switched'), 5000);
    expect(observer.json(`${P}/e2e/info`).at(-1)).toMatchObject({ variant: 'fp16' });
    const bad = await request(observer, P, 'e2e', 'set-model', { variant: 'int4' }, 10_000);
    expect(bad).toMatchObject({ status: 'error', error: expect.stringContaining('has no variant "int4"') });
    expect((await request(observer, P, 'e2e', 'get-status')).data).toMatchObject({
      active: { variant: 'fp16' },
    });
  });

  it('set-config persists atomically, applies telemetry.intervalS live and names restart-only keys', async () => {
    const r = await request(observer, P, 'e2e', 'set-config', {
      patch: { telemetry: { intervalS: 2 }, camera: { fps: 5 } },
    });
    expect(r.status).toBe('ok');
    expect(r.data).toMatchObject({ applied: ['telemetry.intervalS'], restartRequired: ['camera.fps'] });
    expect(JSON.parse(readFileSync(configFile, 'utf8'))).toMatchObject({
      telemetry: { intervalS: 2 },
      camera: { fps: 5 },
    });
    const refused = await request(observer, P, 'e2e', 'set-config', {
      patch: { telemetry: { intervalS: -1 } },
    });
    expect(refused).toMatchObject({ status: 'error', error: expect.stringContaining('telemetry.intervalS') });
    expect(JSON.parse(readFileSync(configFile, 'utf8')).telemetry.intervalS).toBe(2);
    const cfg = await request(observer, P, 'e2e', 'get-config');
    expect(cfg.data).toMatchObject({ telemetry: { intervalS: 2 } });
  });

  it('get-profile, snapshot and set-fps reach the hardware profiler and the pipeline', async () => {
    const profile = await request(observer, P, 'e2e', 'get-profile', {}, 20_000);
    expect(profile).toMatchObject({
      status: 'ok',
      data: { board: { family: 'x86' }, fingerprint: expect.any(String) },
    });
    const snap = await request(observer, P, 'e2e', 'snapshot', { quality: 70 }, 10_000);
    expect(snap).toMatchObject({ status: 'ok', data: { width: expect.any(Number), variant: 'fp16' } });
    const jpeg = Buffer.from((snap.data as { jpegBase64: string }).jpegBase64, 'base64');
    expect(jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    const fps = await request(observer, P, 'e2e', 'set-fps', { fps: 3 });
    expect(fps).toMatchObject({ status: 'ok', data: { fps: 3 } });
    expect(fps.data).toMatchObject({ result: { pacing: { mode: 'continuous', fps: 3 } } });
    const status = await request(observer, P, 'e2e', 'get-status');
    expect(
      (status.data as { pipeline: { pacing: { mode: string; fps: number } } }).pipeline.pacing,
    ).toMatchObject({
      mode: 'continuous',
      fps: 3,
    });
  });

  it('derive calibrates int8 on the camera frames, reports progress and adds the variant to the catalog', async () => {
    const r = await request(
      observer,
      P,
      'e2e',
      'derive',
      { method: 'int8-static', options: { calibration: 'camera', frames: 4, floor: 0 } },
      180_000,
    );
    expect(r, JSON.stringify(r)).toMatchObject({ status: 'ok', data: { model: 'squeezenet1.1' } });
    const variant = (r.data as { variant: { id: string; precision: string; origin: { method: string } } })
      .variant;
    expect(variant.origin.method).toBe('int8-static');
    const progress = observer.json(`${P}/e2e/events`).filter((e) => e.type === 'derive-progress');
    expect(progress.some((e) => e.stage === 'collect-frames')).toBe(true);
    const models = await request(observer, P, 'e2e', 'list-models');
    const squeeze = (
      models.data as { models: Array<{ name: string; variants: Array<{ id: string; derived: boolean }> }> }
    ).models.find((m) => m.name === 'squeezenet1.1')!;
    expect(squeeze.variants).toContainEqual(expect.objectContaining({ id: variant.id, derived: true }));
  });

  it('restart answers, stops cleanly (offline) and exits with the restart code; every command is audited', async () => {
    const r = await request(observer, P, 'e2e', 'restart', { reason: 'test' });
    expect(r).toMatchObject({ status: 'ok', data: { restarting: true } });
    expect(await exit).toBe(RESTART_EXIT_CODE);
    expect(observer.on(`${P}/e2e/availability`).at(-1)?.payload.toString()).toBe('offline');
    const db = new Database(path.join(dir, 'data', 'edge-agent.db'), { readonly: true });
    const audit = db.prepare('SELECT command, status FROM command_audit ORDER BY id').all();
    db.close();
    expect(audit).toEqual([
      { command: 'set-model', status: 'ok' },
      { command: 'set-model', status: 'error' },
      { command: 'get-status', status: 'ok' },
      { command: 'set-config', status: 'ok' },
      { command: 'set-config', status: 'error' },
      { command: 'get-config', status: 'ok' },
      { command: 'get-profile', status: 'ok' },
      { command: 'snapshot', status: 'ok' },
      { command: 'set-fps', status: 'ok' },
      { command: 'get-status', status: 'ok' },
      { command: 'derive', status: 'ok' },
      { command: 'list-models', status: 'ok' },
      { command: 'restart', status: 'ok' },
    ]);
  });
});
