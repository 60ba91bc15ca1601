import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { IMAGES, MODELS } from '../../helpers/paths.js';

const coco = (name: string) => path.join(IMAGES, 'coco_val2017', name);

/** One clear line on stderr, no stack trace, non-zero exit. */
function expectCleanFailure(run: { code: number | null; stderr: string; stdout: string }, pattern: RegExp) {
  expect(run.code).not.toBe(0);
  expect(run.code).not.toBeNull();
  expect(run.stderr).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stdout).toBe('');
}

describe('edge-agent infer', () => {
  it('prints the documented JSON for a detector', async () => {
    const run = await runCli(['infer', coco('000000086956.jpg'), '--json']);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ model: 'yolox-nano', variant: 'fp32', task: 'detection' });
    expect(Object.keys(out.timings).sort()).toEqual(['inferenceMs', 'postprocessMs', 'preprocessMs']);
    expect(out.detections.length).toBe(3);
    for (const d of out.detections) {
      expect(d).toEqual({
        label: 'person',
        classId: 0,
        score: expect.any(Number),
        box: [expect.any(Number), expect.any(Number), expect.any(Number), expect.any(Number)],
      });
      expect(d.box[2]).toBeLessThanOrEqual(480);
      expect(d.box[3]).toBeLessThanOrEqual(640);
    }
  });

  it('prints top-5 classes for a classifier variant', async () => {
    const run = await runCli([
      'infer',
      path.join(IMAGES, 'skimage/coffee.png'),
      '--model',
      'squeezenet1.1',
      '--variant',
      'fp16',
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out).toMatchObject({ model: 'squeezenet1.1', variant: 'fp16', task: 'classification' });
    expect(out.classes).toHaveLength(5);
    expect(out.classes[0]).toMatchObject({ label: 'espresso', classId: 967 });
    expect(out.detections).toBeUndefined();
  });

  it('prints a readable summary without --json', async () => {
    const run = await runCli(['infer', path.join(IMAGES, 'skimage/astronaut.png'), '--model', 'ultraface']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^ultraface\/rfb-320 on astronaut\.png \(512x512\)/);
    expect(run.stdout).toMatch(/1 detection:\n\s+1\.000\s+face/);
  });

  it('unknown model: one clear line, exit 1', async () => {
    expectCleanFailure(
      await runCli(['infer', coco('000000086956.jpg'), '--model', 'resnet50']),
      /^edge-agent infer: unknown model "resnet50" \(available: squeezenet1\.1, ultraface, yolox-nano\)\n$/,
    );
  });

  it('missing image: one clear line', async () => {
    expectCleanFailure(
      await runCli(['infer', '/nonexistent/cat.jpg']),
      /^edge-agent infer: \/nonexistent\/cat\.jpg: no such file\n$/,
    );
  });

  it('corrupt image: one clear line', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-cli-'));
    const bad = path.join(dir, 'broken.jpg');
    writeFileSync(bad, Buffer.from('\xff\xd8\xff\xe0 this is not really a jpeg', 'latin1'));
    expectCleanFailure(
      await runCli(['infer', bad]),
      /^edge-agent infer: cannot decode image .*broken\.jpg: .+\n$/,
    );
  });

  it('sha256 mismatch: refused with the expected and actual digests', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-cli-'));
    cpSync(path.join(MODELS, 'yolox-nano'), path.join(dir, 'models', 'yolox-nano'), { recursive: true });
    const onnx = path.join(dir, 'models', 'yolox-nano', 'yolox_nano.onnx');
    const bytes = Buffer.from(await import('node:fs').then((fs) => fs.readFileSync(onnx)));
    bytes[bytes.length - 1] = bytes.at(-1)! ^ 0xff; // one flipped byte
    writeFileSync(onnx, bytes);
    writeFileSync(
      path.join(dir, 'agent.config.json'),
      JSON.stringify({ models: { dir: './models' }, dataDir: './data' }),
    );
    expectCleanFailure(
      await runCli(['infer', coco('000000086956.jpg'), '--config', path.join(dir, 'agent.config.json')]),
      /^edge-agent infer: .*yolox_nano\.onnx: sha256 mismatch \(expected 695e750a5d57…, got [0-9a-f]{12}…\)/,
    );
  });

  it('bad usage exits 2 with the usage line', async () => {
    const run = await runCli(['infer']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/usage: edge-agent infer IMAGE/);
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "frobnicate"/);
  });

  it('names the command once in an error, not "edge-agent infer: infer: ..."', async () => {
    const two = await runCli(['infer', 'a.jpg', 'b.jpg']);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/^edge-agent infer: expected one IMAGE, got 2\n/);
  });
});

describe('edge-agent models', () => {
  it('lists every variant as JSON and verifies checksums', async () => {
    const run = await runCli(['models', '--json', '--verify']);
    expect(run.code, run.stderr).toBe(0);
    const models = JSON.parse(run.stdout) as Array<{
      name: string;
      variants: Array<{ id: string; integrity: string; default: boolean }>;
    }>;
    expect(models.map((m) => m.name)).toEqual(['squeezenet1.1', 'ultraface', 'yolox-nano']);
    const all = models.flatMap((m) => m.variants);
    expect(all).toHaveLength(6);
    expect(all.every((v) => v.integrity === 'ok')).toBe(true);
    expect(models.find((m) => m.name === 'ultraface')!.variants.find((v) => v.default)!.id).toBe('rfb-320');
  });
});

describe('edge-agent config validate', () => {
  it('accepts the bundled config', async () => {
    const run = await runCli(['config', 'validate', 'agent.config.json']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe('agent.config.json: valid\n');
  });

  it('prints every bad field with its path and exits non-zero', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-cli-'));
    const file = path.join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({ camera: { fps: 'fast' }, http: { port: -1 }, mqtt: { prefx: 'a' } }),
    );
    const run = await runCli(['config', 'validate', file]);
    expect(run.code).toBe(1);
    expect(run.stderr.split('\n')).toEqual([
      'camera.fps: expected number > 0 and <= 240, got "fast"',
      'mqtt.prefx: unknown key (did you mean "prefix"?)',
      'http.port: expected integer >= 0 and <= 65535, got -1',
      '3 problems found',
      '',
    ]);
  });
});

describe('edge-agent config print', () => {
  it('prints the effective config with secrets and URL passwords redacted', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-cli-'));
    const file = path.join(dir, 'agent.config.json');
    writeFileSync(
      file,
      JSON.stringify({
        camera: { source: 'rtsp://cam:campass-1@10.0.0.5:554/stream' },
        mqtt: { url: 'mqtts://fleet:brokerpass-2@broker.lan:8883', password: 'brokerpass-2' },
        http: { token: 'a-dashboard-token-3456' },
      }),
    );
    const run = await runCli(['config', 'print', file]);
    expect(run.code, run.stderr).toBe(0);
    const printed = JSON.parse(run.stdout) as {
      camera: { source: string };
      mqtt: { url: string; password: string };
      http: { token: string };
    };
    expect(printed.camera.source).toBe('rtsp://cam:***@10.0.0.5:554/stream');
    expect(printed.mqtt).toMatchObject({ url: 'mqtts://fleet:***@broker.lan:8883', password: '[redacted]' });
    expect(printed.http.token).toBe('[redacted]');
    for (const secret of ['campass-1', 'brokerpass-2', 'a-dashboard-token-3456'])
      expect(run.stdout).not.toContain(secret);
  });
});
