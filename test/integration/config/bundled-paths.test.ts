import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveCameraSource, resolveModelsDir } from '../../../src/config/bundled-paths.js';
import { loadConfig } from '../../../src/config/index.js';
import { missingPaths, referencedPaths } from '../../../src/config/referenced-paths.js';
import { runCli } from '../../helpers/cli.js';
import { REPO } from '../../helpers/paths.js';

const PKG = '/opt/edge-agent';
const none = () => false;
const all = () => true;

describe('bundled models and samples resolve against the package, user paths against the config', () => {
  it.each([
    [undefined, none, `${PKG}/models`],
    ['./models', none, `${PKG}/models`],
    ['models', none, `${PKG}/models`],
    ['./models', all, '/etc/edge-agent/models'],
    ['./my-models', none, '/etc/edge-agent/my-models'],
    ['/srv/models', none, '/srv/models'],
  ])('models.dir %s (exists beside config: %s) -> %s', (value, exists, expected) => {
    expect(resolveModelsDir(value, '/etc/edge-agent', { packageRoot: PKG, exists })).toBe(expected);
  });

  it.each([
    [undefined, none, `images:${PKG}/samples`],
    ['images:./samples', none, `images:${PKG}/samples`],
    ['images:./samples', all, 'images:/etc/edge-agent/samples'],
    ['images:./frames', none, 'images:/etc/edge-agent/frames'],
    ['file:clip.mp4', none, 'file:/etc/edge-agent/clip.mp4'],
    ['v4l2:/dev/video0', none, 'v4l2:/dev/video0'],
    ['rtsp://cam/stream', none, 'rtsp://cam/stream'],
  ])('camera.source %s (exists beside config: %s) -> %s', (value, exists, expected) => {
    expect(resolveCameraSource(value, '/etc/edge-agent', { packageRoot: PKG, exists })).toBe(expected);
  });

  it('a copy of the shipped agent.config.json in any folder finds the bundled models and samples', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-etc-'));
    const copy = path.join(dir, 'agent.config.json');
    copyFileSync(path.join(REPO, 'agent.config.json'), copy);
    const { config } = loadConfig({ file: copy, env: {}, cwd: '/' });
    expect(config.models.dir).toBe(path.join(REPO, 'models'));
    expect(config.camera.source).toBe(`images:${path.join(REPO, 'samples')}`);
    expect(config.dataDir).toBe(path.join(dir, 'data')); // a user path: against the config
    expect(missingPaths(referencedPaths(config))).toEqual([]);

    const validate = await runCli(['config', 'validate', copy], { cwd: tmpdir() });
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
    // The real thing: the copied config runs inference on the bundled model.
    const infer = await runCli(['infer', path.join(REPO, 'samples/coffee.png'), '--config', copy, '--json'], {
      timeoutMs: 120_000,
    });
    expect(infer.code, infer.stderr).toBe(0);
  }, 180_000);

  it('config validate reports referenced files and folders that do not exist', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-missing-'));
    mkdirSync(path.join(dir, 'keys'));
    writeFileSync(path.join(dir, 'keys', 'ca.pem'), 'x');
    const file = path.join(dir, 'agent.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        models: { dir: './my-models' },
        camera: { source: 'images:./frames' },
        mqtt: {
          url: 'mqtts://broker:8883',
          tls: { ca: 'keys/ca.pem', cert: 'keys/dev.crt', key: 'keys/dev.key' },
        },
      }),
    );
    const run = await runCli(['config', 'validate', file]);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toEqual([
      `models.dir: folder not found: ${path.join(dir, 'my-models')}`,
      `models.default: file not found: ${path.join(dir, 'my-models', 'yolox-nano', 'manifest.json')}`,
      `camera.source: folder not found: ${path.join(dir, 'frames')}`,
      `mqtt.tls.cert: file not found: ${path.join(dir, 'keys', 'dev.crt')}`,
      `mqtt.tls.key: file not found: ${path.join(dir, 'keys', 'dev.key')}`,
      '5 problems found',
    ]);
  }, 120_000);
});
