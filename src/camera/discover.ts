import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import {
  type CaptureFormat,
  type CsiCamera,
  parseFfmpegListFormats,
  parseRpicamList,
  parseV4l2CtlFormats,
} from './discover-parse.js';
import type { ToolLookup } from './tools.js';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export type ExecFn = (command: string, args: string[], timeoutMs: number) => Promise<ExecResult>;

export interface DiscoverDeps {
  /** Filesystem root (`/` on a device; a fixture tree in tests). */
  root: string;
  lookup: ToolLookup;
  exec: ExecFn;
}

export interface DiscoveredCamera {
  /** What to put in `camera.source`. */
  source: string;
  kind: 'v4l2' | 'libcamera' | 'jetson-csi';
  name: string;
  /** Capture formats; empty for metadata nodes and devices that list none. */
  formats: CaptureFormat[];
  notes: string[];
}

export interface Discovery {
  cameras: DiscoveredCamera[];
  /** Where each capture tool is installed; null when missing. */
  tools: Record<'ffmpeg' | 'v4l2-ctl' | 'rpicam-vid' | 'libcamera-vid' | 'gst-launch-1.0', string | null>;
  problems: string[];
}

/** Runs a tool and collects its output; never throws (a failing probe is reported, not fatal). */
export const defaultExec: ExecFn = (command, args, timeoutMs) =>
  new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err
        ? typeof (err as { code?: unknown }).code === 'number'
          ? (err as { code: number }).code
          : null
        : 0;
      resolve({
        stdout: String(stdout),
        stderr: String(stderr) || (err && code === null ? errorMessage(err) : ''),
        code,
      });
    });
  });

async function readText(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Lists the cameras this machine can use: `/dev/video*` nodes with their formats (v4l2-ctl when
 * installed, else ffmpeg), Pi CSI cameras (rpicam-hello / libcamera-hello) and Jetson CSI sensors
 * (V4L2 nodes named `vi-output, <sensor>` plus the nvarguscamerasrc GStreamer plugin).
 */
export async function discoverCameras(deps: DiscoverDeps): Promise<Discovery> {
  const find = (name: string) => deps.lookup(name) ?? null;
  const tools: Discovery['tools'] = {
    ffmpeg: find('ffmpeg'),
    'v4l2-ctl': find('v4l2-ctl'),
    'rpicam-vid': find('rpicam-vid'),
    'libcamera-vid': find('libcamera-vid'),
    'gst-launch-1.0': find('gst-launch-1.0'),
  };
  const problems: string[] = [];
  const cameras: DiscoveredCamera[] = [];

  let nodes: string[] = [];
  try {
    nodes = (await readdir(path.join(deps.root, 'dev')))
      .filter((n) => /^video\d+$/.test(n))
      .sort((a, b) => Number(a.slice(5)) - Number(b.slice(5)));
  } catch (err) {
    problems.push(`cannot list ${path.join(deps.root, 'dev')}: ${errorMessage(err)}`);
  }
  let jetsonIndex = 0;
  for (const node of nodes) {
    const device = `/dev/${node}`;
    const name = (await readText(path.join(deps.root, 'sys/class/video4linux', node, 'name'))) ?? node;
    const formats = await listFormats(device, tools, deps, problems);
    if (/^vi-output/.test(name)) {
      // Jetson CSI sensors: raw Bayer through V4L2; the ISP path is nvarguscamerasrc.
      const notes = tools['gst-launch-1.0']
        ? []
        : ['gst-launch-1.0 missing: sudo apt-get install -y gstreamer1.0-tools'];
      cameras.push({ source: `jetson-csi:${jetsonIndex++}`, kind: 'jetson-csi', name, formats, notes });
      continue;
    }
    const capture = formats.filter((f) => f.sizes.length > 0);
    const notes: string[] = [];
    if (capture.length === 0) notes.push('no capture formats (a metadata or codec node, not a camera)');
    else if (!tools.ffmpeg) notes.push('ffmpeg missing: sudo apt-get install -y ffmpeg');
    cameras.push({ source: `v4l2:${device}`, kind: 'v4l2', name, formats, notes });
  }

  const rpicamHello = deps.lookup('rpicam-hello') ?? deps.lookup('libcamera-hello');
  if (rpicamHello) {
    const out = await deps.exec(rpicamHello, ['--list-cameras'], 15_000);
    const csi: CsiCamera[] = parseRpicamList(`${out.stdout}\n${out.stderr}`);
    for (const c of csi) {
      cameras.push({
        source: c.index === 0 ? 'libcamera' : `libcamera:${c.index}`,
        kind: 'libcamera',
        name: `${c.sensor} (${c.width}x${c.height})`,
        formats: [{ format: 'mjpeg', description: 'via rpicam-vid', compressed: true, sizes: c.modes }],
        notes:
          tools['rpicam-vid'] || tools['libcamera-vid']
            ? []
            : ['rpicam-vid missing: sudo apt-get install -y rpicam-apps'],
      });
    }
    if (csi.length === 0 && out.code !== 0)
      problems.push(`${path.basename(rpicamHello)} --list-cameras failed: ${lastLine(out.stderr)}`);
  }
  return { cameras, tools, problems };
}

async function listFormats(
  device: string,
  tools: Discovery['tools'],
  deps: DiscoverDeps,
  problems: string[],
): Promise<CaptureFormat[]> {
  if (tools['v4l2-ctl']) {
    const out = await deps.exec(tools['v4l2-ctl'], ['--list-formats-ext', '-d', device], 10_000);
    if (out.code === 0) return parseV4l2CtlFormats(out.stdout);
    problems.push(`v4l2-ctl on ${device}: ${lastLine(out.stderr)}`);
  }
  if (tools.ffmpeg) {
    // ffmpeg lists the formats in its log and then exits non-zero ("Immediate exit requested").
    const out = await deps.exec(
      tools.ffmpeg,
      ['-hide_banner', '-f', 'v4l2', '-list_formats', 'all', '-i', device],
      10_000,
    );
    const formats = parseFfmpegListFormats(out.stderr);
    if (formats.length === 0 && !/Immediate exit/.test(out.stderr))
      problems.push(`ffmpeg on ${device}: ${lastLine(out.stderr)}`);
    return formats;
  }
  return [];
}

function lastLine(text: string): string {
  const lines = text.trim().split(/\r?\n/);
  return lines[lines.length - 1] ?? '';
}
