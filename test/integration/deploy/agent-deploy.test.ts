import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { TSX_LOADER } from '../../helpers/cli.js';
import { freePort, Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { REPO } from '../../helpers/paths.js';
import { Observer, request, waitUntil } from '../mqtt/support.js';
import { deployManifest } from './support.js';

const run = requireMosquitto();
const P = 'edge-agent';
const MODEL_FILE = path.join(REPO, 'models/ultraface/ultraface_version-slim-320.onnx');

/**
 * The real agent with `trust.requireSignedCommands`: unsigned requests refused, the fleet CLI signs
 * with --key, and `fleet deploy --serve` ships a signed model that the agent downloads, validates
 * in a child process, installs, health-checks and commits.
 */
describe.runIf(run)('the real agent: signed commands and fleet deploy', () => {
  let broker: Mosquitto;
  let observer: Observer;
  let child: ChildProcess;
  let stdout = '';
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-deploy-e2e-'));

  async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    let out = '';
    let err = '';
    const sink = (append: (s: string) => void) =>
      new Writable({
        write(chunk, _enc, done) {
          append(String(chunk));
          done();
        },
      });
    const code = await main(args, {
      env: { ...process.env },
      cwd: dir,
      stdout: sink((s) => (out += s)),
      stderr: sink((s) => (err += s)),
    });
    return { code, stdout: out, stderr: err };
  }

  async function startAgent(): Promise<void> {
    const before = observer.on(`${P}/e2e/telemetry`).length;
    child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(REPO, 'src/cli.ts'), 'run', '--config', 'agent.config.json'],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stdout += d));
    await waitUntil(
      () => observer.on(`${P}/e2e/telemetry`).length > before,
      60_000,
      () => stdout.slice(-2000),
    );
  }

  function manifest(version: number, port: number): Record<string, unknown> {
    return deployManifest({ version, url: `http://127.0.0.1:${port}/models/slim-v2.onnx`, target: 'e2e' });
  }

  beforeAll(async () => {
    broker = await Mosquitto.start();
    const gen = await cli('keys', 'generate', '--out', 'ops', '--json');
    const trustKey = JSON.parse(gen.stdout).trustKey;
    writeFileSync(
      path.join(dir, 'agent.config.json'),
      JSON.stringify({
        deviceId: 'e2e',
        dataDir: './data',
        models: { dir: path.join(REPO, 'models'), default: 'ultraface', variant: 'slim-320' },
        camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 },
        inference: { threads: 1 },
        mqtt: { url: broker.url },
        http: { enabled: false },
        telemetry: { intervalS: 1 },
        // A generous latency factor: the machine is shared; the health rule itself is unit-tested.
        trust: {
          requireSignedCommands: true,
          keys: [trustKey],
          deploy: { healthWindowS: 4, minInferences: 1, latencyFactor: 20 },
        },
      }),
    );
    observer = await Observer.connect(broker.url, {}, [`${P}/e2e/#`]);
    await startAgent();
  }, 90_000);

  afterAll(async () => {
    child?.kill('SIGTERM');
    await observer?.close();
    await broker?.stop();
  });

  it('refuses an unsigned command and runs one signed by the CLI; the key never shows in info', async () => {
    const r = await request(observer, P, 'e2e', 'ping', {}, 10_000);
    expect(r).toMatchObject({ status: 'error' });
    expect(String(r.error)).toMatch(/unsigned command refused/);
    const signed = await cli(
      'fleet',
      'send',
      'e2e',
      'ping',
      '--key',
      'ops.key',
      '--url',
      broker.url,
      '--json',
    );
    expect(signed.code).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ status: 'ok' });
    const info = JSON.stringify(observer.json(`${P}/e2e/info`).at(-1));
    const pub = readFileSync(path.join(dir, 'ops.pub'), 'utf8').split('\n')[1]!;
    expect(info).not.toContain(pub.slice(0, 40));
    expect(stdout).not.toContain(pub.slice(0, 40));
  }, 60_000);

  it('fleet deploy --serve: downloaded, validated, installed, health-checked, committed; info.update walks the states', async () => {
    const port = await freePort();
    copyFileSync(MODEL_FILE, path.join(dir, 'slim-v2.onnx'));
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest(2, port)));
    expect(
      (await cli('sign', 'manifest.json', '--key', 'ops.key', '--out', 'manifest.signed.json')).code,
    ).toBe(0);
    const r = await cli(
      'fleet',
      'deploy',
      'e2e',
      'manifest.signed.json',
      '--serve',
      'slim-v2.onnx',
      '--key',
      'ops.key',
      '--url',
      broker.url,
      '--timeout',
      '120',
    );
    expect(r.stderr + r.stdout).toMatch(/committed/);
    expect(r.code).toBe(0);
    await waitUntil(() => observer.json(`${P}/e2e/results`).some((x) => x.variant === 'slim-v2'), 20_000);
    const states = observer
      .json(`${P}/e2e/events`)
      .filter((e) => e.type === 'deploy-model-progress')
      .map((e) => (e.data as { state?: string } | undefined)?.state ?? e.state);
    expect(states).toEqual(
      expect.arrayContaining(['downloading', 'validating', 'installing', 'health', 'committed']),
    );
    await waitUntil(
      () =>
        (observer.json(`${P}/e2e/info`).at(-1)?.update as { state?: string } | undefined)?.state ===
        'committed',
      10_000,
    );
    // The same manifest again: anti-rollback refuses it at once.
    const again = await cli(
      'fleet',
      'deploy',
      'e2e',
      'manifest.signed.json',
      '--key',
      'ops.key',
      '--url',
      broker.url,
      '--json',
    );
    expect(again.stdout).toMatch(/already installed/);
    // Committed means configured: the agent will start on it.
    const config = JSON.parse(readFileSync(path.join(dir, 'agent.config.json'), 'utf8'));
    expect(config.models).toMatchObject({ default: 'ultraface', variant: 'slim-v2' });
  }, 180_000);

  it('SIGKILL during the health window of the next version: the restart serves the committed one, then resumes (no resend) and commits', async () => {
    const port = await freePort();
    writeFileSync(path.join(dir, 'manifest3.json'), JSON.stringify(manifest(3, port)));
    expect(
      (await cli('sign', 'manifest3.json', '--key', 'ops.key', '--out', 'manifest3.signed.json')).code,
    ).toBe(0);
    const seen = observer.json(`${P}/e2e/events`).length;
    const deploying = cli(
      'fleet',
      'deploy',
      'e2e',
      'manifest3.signed.json',
      '--serve',
      'slim-v2.onnx',
      '--key',
      'ops.key',
      '--url',
      broker.url,
      '--timeout',
      '20',
    );
    await waitUntil(
      () =>
        observer
          .json(`${P}/e2e/events`)
          .slice(seen)
          .some((e) => e.type === 'deploy-model-progress' && e.state === 'health'),
      60_000,
      () => JSON.stringify(observer.json(`${P}/e2e/events`).slice(seen)).slice(-1500) + stdout.slice(-1500),
    );
    // The new file is installed and serving; the agent dies before the commit.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await deploying;
    const resumedFrom = observer.json(`${P}/e2e/events`).length;
    await startAgent();
    // It starts (on the configured slim-v2), then resumes the stored, re-verified manifest: the
    // server is gone, the verified file is reused; the health window runs again.
    const events = () => observer.json(`${P}/e2e/events`).slice(resumedFrom);
    const info = () => observer.json(`${P}/e2e/info`).at(-1) as Record<string, unknown>;
    await waitUntil(
      () => (info().update as { state?: string } | undefined)?.state === 'committed',
      60_000,
      () => JSON.stringify(events()).slice(-1500) + stdout.slice(-1500),
    );
    expect(events().filter((e) => e.type === 'deploy-model-progress')).toContainEqual(
      expect.objectContaining({ state: 'resuming', from: 'health' }),
    );
    expect(info()).toMatchObject({ model: 'ultraface', variant: 'slim-v3' });
    expect(info().update).toMatchObject({ installedVersion: 3, latestVersion: 3 });
    const db = new Database(path.join(dir, 'data/edge-agent.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  }, 180_000);
});
