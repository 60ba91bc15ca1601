import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { FIXTURES } from '../../helpers/paths.js';

/** A filesystem root with a UVC camera (and its metadata node), and a v4l2-ctl that prints a capture. */
function fixtureMachine(): { root: string; bin: string } {
  const root = mkdtempSync(path.join(tmpdir(), 'ea-cli-cams-'));
  mkdirSync(path.join(root, 'dev'));
  for (const node of ['video0', 'video1']) {
    writeFileSync(path.join(root, 'dev', node), '');
    mkdirSync(path.join(root, 'sys/class/video4linux', node), { recursive: true });
    writeFileSync(path.join(root, 'sys/class/video4linux', node, 'name'), 'HD Pro Webcam C920\n');
  }
  const bin = path.join(root, 'bin');
  mkdirSync(bin);
  const script = path.join(bin, 'v4l2-ctl');
  const uvc = path.join(FIXTURES, 'camera', 'v4l2-ctl-uvc-c920.txt');
  const meta = path.join(FIXTURES, 'camera', 'v4l2-ctl-metadata-node.txt');
  writeFileSync(script, `#!/bin/sh\ncase "$*" in *video0*) cat '${uvc}' ;; *) cat '${meta}' ;; esac\n`);
  chmodSync(script, 0o755);
  return { root, bin };
}

describe('edge-agent cameras', () => {
  it('lists the cameras with the source to configure and their formats', async () => {
    const { root, bin } = fixtureMachine();
    const env = { PATH: `${bin}:${process.env.PATH}` };
    const table = await runCli(['cameras', '--root', root], { env });
    expect(table.code).toBe(0);
    const lines = table.stdout.split('\n');
    expect(lines[0]).toMatch(/^source\s+name\s+formats\s+notes$/);
    expect(lines.find((l) => l.startsWith('v4l2:/dev/video0'))).toMatch(
      /HD Pro Webcam C920\s+mjpeg 1920x1080@30 \+2 sizes, yuyv422 640x480@30 \+1 sizes/,
    );
    expect(lines.find((l) => l.startsWith('v4l2:/dev/video1'))).toContain('not a camera');
    expect(table.stdout).toMatch(/tools: ffmpeg (yes|no), v4l2-ctl yes/);

    const json = await runCli(['cameras', '--root', root, '--json'], { env });
    const parsed = JSON.parse(json.stdout) as { cameras: Array<{ source: string; formats: unknown[] }> };
    expect(parsed.cameras.map((c) => [c.source, c.formats.length])).toEqual([
      ['v4l2:/dev/video0', 2],
      ['v4l2:/dev/video1', 0],
    ]);
  });

  it('says what to use when there is no camera', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ea-cli-none-'));
    mkdirSync(path.join(root, 'dev'));
    const run = await runCli(['cameras', '--root', root]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('no cameras found');
    expect(run.stdout).toContain('synthetic');
  });
});
