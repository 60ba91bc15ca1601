import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli/main.js';
import { TSX_LOADER } from '../../helpers/cli.js';
import { freePort, Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { addHeavyBranch, scaleOutput } from '../../helpers/onnx-edits.js';
import { REPO } from '../../helpers/paths.js';
import { Observer, waitUntil } from '../mqtt/support.js';
import { deployManifest, ultrafaceModelManifest } from './support.js';

const run = requireMosquitto();
const P = 'edge-agent';
const ID = 'health';
const SLIM = readFileSync(path.join(REPO, 'models/ultraface/ultraface_version-slim-320.onnx'));

/**
 * The real agent (camera: the sample images, real tuner, real pipeline) receives three signed
 * deployments of a model it has never seen, "faces" (the bundled UltraFace slim file and manifest
 * under a new name): v1 as is → committed; v2 with its scores multiplied by 0 (an ONNX graph edit)
 * → its detections collapse in the health window → rolled back; v3 with a heavy no-op branch
 * (~30× the work) → the tuner measures it far slower than allowed → refused before the switch.
 * After each failure v1 still serves.
 */
describe.runIf(run)('the real agent: new model, detection collapse, a model far slower than allowed', () => {
  let broker: Mosquitto;
  let observer: Observer;
  let child: ChildProcess;
  let log = '';
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-deploy-health-'));

  async function cli(...args: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const sink = new Writable({
      write(chunk, _enc, done) {
        out += String(chunk);
        done();
      },
    });
    const code = await main(args, { env: { ...process.env }, cwd: dir, stdout: sink, stderr: sink });
    return { code, out };
  }

  /** Signs a deployment of `bytes` as faces/slim `version` and ships it with `fleet deploy --serve`. */
  async function deploy(version: number, bytes: Uint8Array, withManifest: boolean) {
    const port = await freePort();
    const file = `faces-v${version}.onnx`;
    writeFileSync(path.join(dir, file), bytes);
    const manifest = deployManifest({
      model: 'faces',
      version,
      url: `http://127.0.0.1:${port}/${file}`,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      target: ID,
      ...(withManifest ? { manifest: { ...ultrafaceModelManifest(), labels: ['background', 'face'] } } : {}),
    });
    writeFileSync(path.join(dir, `m${version}.json`), JSON.stringify(manifest));
    expect(
      (await cli('sign', `m${version}.json`, '--key', 'ops.key', '--out', `m${version}.signed.json`)).code,
    ).toBe(0);
    const seen = observer.json(`${P}/${ID}/events`).length;
    const r = await cli(
      'fleet',
      'deploy',
      ID,
      `m${version}.signed.json`,
      '--serve',
      file,
      '--key',
      'ops.key',
      '--url',
      broker.url,
      '--timeout',
      '240',
    );
    const events = observer
      .json(`${P}/${ID}/events`)
      .slice(seen)
      .filter((e) => e.type === 'deploy-model-progress')
      .map((e) => (e.data ?? e) as { state?: string; error?: string; detail?: string });
    return { ...r, events, final: events.at(-1) };
  }

  const results = () => observer.json(`${P}/${ID}/results`);
  const servingNow = async (variant: string) => {
    const from = results().length;
    await waitUntil(
      () =>
        results()
          .slice(from)
          .filter((x) => x.model === 'faces' && x.variant === variant).length >= 3,
      30_000,
    );
  };

  beforeAll(async () => {
    // The camera: the sample pictures at 1280 px wide (the kept frames are scaled down to 640).
    const frames = path.join(dir, 'frames');
    mkdirSync(frames);
    for (const f of readdirSync(path.join(REPO, 'samples')).filter((x) => /\.(jpg|png)$/.test(x)))
      await sharp(path.join(REPO, 'samples', f))
        .resize({ width: 1280 })
        .jpeg()
        .toFile(path.join(frames, `${f}.jpg`));
    broker = await Mosquitto.start();
    const gen = await cli('keys', 'generate', '--out', 'ops', '--json');
    const trustKey = JSON.parse(gen.out).trustKey;
    writeFileSync(
      path.join(dir, 'agent.config.json'),
      JSON.stringify({
        deviceId: ID,
        dataDir: './data',
        models: { dir: path.join(REPO, 'models'), default: 'ultraface', variant: 'slim-320' },
        camera: { source: `images:${frames}`, fps: 5 },
        inference: { threads: 1 },
        mqtt: { url: broker.url },
        http: { enabled: false },
        telemetry: { intervalS: 1 },
        // Short tuner measurements; no background tune of its own during the test.
        policy: {
          tuning: { rounds: 2, runsPerRound: 5, warmupRuns: 1, pauseBetweenBurstsMs: 100, startDelayS: 3600 },
        },
        // A generous live-latency factor (the machine is shared); maxSlowdown stays the default 3.
        trust: { keys: [trustKey], deploy: { healthWindowS: 6, minInferences: 1, latencyFactor: 20 } },
      }),
    );
    observer = await Observer.connect(broker.url, {}, [`${P}/${ID}/#`]);
    child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(REPO, 'src/cli.ts'), 'run', '--config', 'agent.config.json'],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child.stdout?.on('data', (d) => (log = (log + d).slice(-200_000)));
    child.stderr?.on('data', (d) => (log = (log + d).slice(-200_000)));
    await waitUntil(
      () => results().length > 3,
      90_000,
      () => log.slice(-2000),
    );
  }, 120_000);

  afterAll(async () => {
    child?.kill('SIGTERM');
    await observer?.close();
    await broker?.stop();
  });

  it('a new model (manifest in the deployment): installed, tuned, compared with the previous model on live frames, committed', async () => {
    const r = await deploy(1, SLIM, true);
    expect(r.final, r.out + log.slice(-3000)).toMatchObject({ state: 'committed' });
    expect(r.code).toBe(0);
    // Same file as the model that served before: the comparison on live frames agrees fully.
    expect(r.events.find((e) => e.state === 'committed' && e.detail)?.detail).toMatch(
      /fidelity 1\.00 \(map50-vs-reference\) on \d+ live frames/,
    );
    await servingNow('slim-v1');
    // Validated on a live frame, preprocessed and decoded as the carried manifest says.
    expect(log).toMatch(
      /"input":"frame","decoded":\{"detections":\d+\}.*"frameFrom":"a recent camera frame"/,
    );
    expect(existsSync(path.join(dir, 'data/deployed-models/faces/manifest.json'))).toBe(true);
    expect(JSON.parse(readFileSync(path.join(dir, 'agent.config.json'), 'utf8')).models).toMatchObject({
      default: 'faces',
      variant: 'slim-v1',
    });
  }, 300_000);

  it('a model whose detections collapse (scores × 0) is rolled back after the health window; v1 serves again', async () => {
    const r = await deploy(2, scaleOutput(SLIM, 'scores', 0), false);
    expect(r.final, r.out + log.slice(-3000)).toMatchObject({ state: 'rolled-back' });
    expect(r.final?.error).toMatch(
      /health: detections collapsed: 0 on \d+ live frames where the previous variant found \d+/,
    );
    expect(r.events.map((e) => e.state)).toContain('health');
    expect(r.events.map((e) => e.detail)).toContain('the tuner measures it');
    await servingNow('slim-v1');
    // The refused variant left the catalog: no later tune can choose it.
    expect(existsSync(path.join(dir, 'data/models/faces/slim-v2.onnx'))).toBe(false);
  }, 300_000);

  it('a model ~30× slower (heavy no-op branch) is refused after the tuner measured it, never switched to', async () => {
    const heavy = addHeavyBranch(SLIM, { name: 'input', dims: [1, 3, 240, 320] }, 'scores', 120);
    const from = results().length;
    const r = await deploy(3, heavy, false);
    expect(r.final, r.out + log.slice(-3000)).toMatchObject({ state: 'failed' });
    expect(r.final?.error).toMatch(
      /tune: the tuner measured p95 [\d.]+ ms for slim-v3@cpu\/\dt, [\d.]+× the serving variant's [\d.]+ ms \(allowed ×3\)/,
    );
    expect(r.events.map((e) => e.state)).not.toContain('health');
    expect(
      results()
        .slice(from)
        .some((x) => x.variant === 'slim-v3'),
    ).toBe(false);
    await servingNow('slim-v1');
  }, 300_000);
});
