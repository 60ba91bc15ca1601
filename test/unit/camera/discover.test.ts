import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { discoverCameras, type ExecFn } from '../../../src/camera/discover.js';
import {
  parseFfmpegListFormats,
  parseRpicamList,
  parseV4l2CtlFormats,
} from '../../../src/camera/discover-parse.js';
import { FIXTURES } from '../../helpers/paths.js';

const fixture = (name: string) => readFileSync(path.join(FIXTURES, 'camera', name), 'utf8');

describe('parsers', () => {
  it('v4l2-ctl --list-formats-ext: formats, sizes and frame rates', () => {
    const formats = parseV4l2CtlFormats(fixture('v4l2-ctl-uvc-c920.txt'));
    expect(formats.map((f) => [f.format, f.compressed])).toEqual([
      ['mjpeg', true],
      ['yuyv422', false],
    ]);
    expect(formats[0]!.sizes).toEqual(['1920x1080', '1280x720', '640x480']);
    expect(formats[0]!.fps).toEqual({ '1920x1080': [30, 15], '1280x720': [30], '640x480': [30] });
    expect(formats[1]!.fps?.['1920x1080']).toEqual([5]);
    expect(parseV4l2CtlFormats(fixture('v4l2-ctl-metadata-node.txt'))).toEqual([]);
  });

  it('ffmpeg -list_formats all: discrete and stepwise sizes, unsupported formats kept', () => {
    const uvc = parseFfmpegListFormats(fixture('ffmpeg-list-formats-uvc.stderr.txt'));
    expect(uvc).toEqual([
      {
        format: 'mjpeg',
        description: 'Motion-JPEG',
        compressed: true,
        sizes: ['1920x1080', '1280x720', '640x480'],
      },
      { format: 'yuyv422', description: 'YUYV 4:2:2', compressed: false, sizes: ['640x480', '1920x1080'] },
    ]);
    const pi = parseFfmpegListFormats(fixture('ffmpeg-list-formats-bcm2835-stepwise.stderr.txt'));
    expect(pi.map((f) => f.format)).toEqual(['yuv420p', 'mjpeg', 'Unsupported']);
    expect(pi[0]!.sizes).toEqual(['{32-2592, 2}x{32-1944, 2}']);
  });

  it('rpicam-hello --list-cameras: index, sensor, resolution and modes', () => {
    expect(parseRpicamList(fixture('rpicam-list-cameras.txt'))).toEqual([
      {
        index: 0,
        sensor: 'imx708',
        width: 4608,
        height: 2592,
        modes: ['1536x864@120', '2304x1296@56', '4608x2592@14'],
      },
      { index: 1, sensor: 'ov5647', width: 2592, height: 1944, modes: ['640x480@59', '1296x972@43'] },
    ]);
    expect(parseRpicamList('No cameras available!')).toEqual([]);
  });
});

/** A filesystem root with /dev/videoN nodes and their sysfs names. */
function fixtureRoot(devices: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'ea-cams-'));
  mkdirSync(path.join(root, 'dev'));
  for (const [node, name] of Object.entries(devices)) {
    writeFileSync(path.join(root, 'dev', node), '');
    mkdirSync(path.join(root, 'sys/class/video4linux', node), { recursive: true });
    writeFileSync(path.join(root, 'sys/class/video4linux', node, 'name'), `${name}\n`);
  }
  return root;
}

describe('discoverCameras', () => {
  it('a USB webcam with its metadata node, formats from v4l2-ctl', async () => {
    const root = fixtureRoot({
      video0: 'HD Pro Webcam C920',
      video1: 'HD Pro Webcam C920',
      video10: 'bcm2835-codec-decode',
    });
    const calls: string[] = [];
    const exec: ExecFn = async (command, args) => {
      calls.push(`${path.basename(command)} ${args.join(' ')}`);
      const device = args[args.length - 1];
      const out =
        device === '/dev/video0' ? fixture('v4l2-ctl-uvc-c920.txt') : fixture('v4l2-ctl-metadata-node.txt');
      return { stdout: out, stderr: '', code: 0 };
    };
    const tools = new Set(['ffmpeg', 'v4l2-ctl']);
    const found = await discoverCameras({
      root,
      exec,
      lookup: (n) => (tools.has(n) ? `/usr/bin/${n}` : undefined),
    });
    expect(found.cameras.map((c) => [c.source, c.name, c.formats.length])).toEqual([
      ['v4l2:/dev/video0', 'HD Pro Webcam C920', 2],
      ['v4l2:/dev/video1', 'HD Pro Webcam C920', 0],
      ['v4l2:/dev/video10', 'bcm2835-codec-decode', 0],
    ]);
    expect(found.cameras[1]!.notes[0]).toContain('not a camera');
    expect(found.cameras[0]!.notes).toEqual([]);
    expect(found.tools).toMatchObject({
      ffmpeg: '/usr/bin/ffmpeg',
      'v4l2-ctl': '/usr/bin/v4l2-ctl',
      'rpicam-vid': null,
    });
    expect(calls[0]).toBe('v4l2-ctl --list-formats-ext -d /dev/video0');
  });

  it('falls back to ffmpeg for formats; notes the missing ffmpeg', async () => {
    const root = fixtureRoot({ video0: 'USB Camera' });
    const exec: ExecFn = async () => ({
      stdout: '',
      stderr: fixture('ffmpeg-list-formats-uvc.stderr.txt'),
      code: 1,
    });
    const withFfmpeg = await discoverCameras({
      root,
      exec,
      lookup: (n) => (n === 'ffmpeg' ? '/usr/bin/ffmpeg' : undefined),
    });
    expect(withFfmpeg.cameras[0]!.formats.map((f) => f.format)).toEqual(['mjpeg', 'yuyv422']);
    expect(withFfmpeg.problems).toEqual([]);
    const without = await discoverCameras({ root, exec, lookup: () => undefined });
    expect(without.cameras[0]!.formats).toEqual([]);
  });

  it('Jetson CSI sensors (vi-output nodes) and Pi CSI cameras', async () => {
    const root = fixtureRoot({ video0: 'vi-output, imx219 9-0010', video1: 'vi-output, imx219 10-0010' });
    const exec: ExecFn = async (command) =>
      path.basename(command) === 'rpicam-hello'
        ? { stdout: fixture('rpicam-list-cameras.txt'), stderr: '', code: 0 }
        : { stdout: '', stderr: '', code: 0 };
    const tools = new Set(['ffmpeg', 'rpicam-hello', 'rpicam-vid']);
    const found = await discoverCameras({
      root,
      exec,
      lookup: (n) => (tools.has(n) ? `/usr/bin/${n}` : undefined),
    });
    expect(found.cameras.map((c) => c.source)).toEqual([
      'jetson-csi:0',
      'jetson-csi:1',
      'libcamera',
      'libcamera:1',
    ]);
    expect(found.cameras[0]!.notes[0]).toContain('gstreamer1.0-tools');
    expect(found.cameras[2]!.name).toBe('imx708 (4608x2592)');
    expect(found.cameras[2]!.notes).toEqual([]);
  });

  it('no /dev at all is reported, not thrown', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ea-empty-'));
    const found = await discoverCameras({
      root,
      exec: async () => ({ stdout: '', stderr: '', code: 0 }),
      lookup: () => undefined,
    });
    expect(found.cameras).toEqual([]);
    expect(found.problems[0]).toContain('cannot list');
  });
});
