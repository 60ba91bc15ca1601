import { ConfigError } from '../errors.js';

/** `camera.source` parsed: which kind of camera and where. Pure. */
export type SourceSpec =
  | { kind: 'images'; dir: string }
  | { kind: 'synthetic' }
  | { kind: 'file'; path: string }
  | { kind: 'v4l2'; device: string }
  | { kind: 'libcamera'; camera: number }
  | { kind: 'jetson-csi'; sensorId: number }
  | { kind: 'rtsp'; url: string }
  | { kind: 'http'; url: string };

export const SOURCE_FORMS =
  'images:DIR, file:PATH, v4l2:/dev/videoN, libcamera[:N], jetson-csi:N, rtsp://..., http(s)://... (MJPEG or HLS), synthetic';

export function parseSource(source: string): SourceSpec {
  const s = source.trim();
  const bad = (why: string) => new ConfigError(`camera.source "${source}": ${why} (forms: ${SOURCE_FORMS})`);
  if (s.startsWith('images:')) {
    const dir = s.slice('images:'.length);
    if (!dir) throw bad('images: needs a folder');
    return { kind: 'images', dir };
  }
  if (s.startsWith('file:')) {
    const path = s.slice('file:'.length);
    if (!path) throw bad('file: needs a path');
    return { kind: 'file', path };
  }
  if (s === 'synthetic') return { kind: 'synthetic' };
  if (s.startsWith('v4l2:')) {
    const device = s.slice('v4l2:'.length);
    if (!/^\/dev\/[A-Za-z0-9/_.-]+$/.test(device)) throw bad('v4l2: needs a device path such as /dev/video0');
    return { kind: 'v4l2', device };
  }
  if (s === 'libcamera' || s.startsWith('libcamera:')) {
    const n = s === 'libcamera' ? 0 : Number(s.slice('libcamera:'.length));
    if (!Number.isInteger(n) || n < 0) throw bad('libcamera:N needs a camera index 0, 1, ...');
    return { kind: 'libcamera', camera: n };
  }
  if (s === 'jetson-csi' || s.startsWith('jetson-csi:')) {
    const n = s === 'jetson-csi' ? 0 : Number(s.slice('jetson-csi:'.length));
    if (!Number.isInteger(n) || n < 0) throw bad('jetson-csi:N needs a sensor id 0, 1, ...');
    return { kind: 'jetson-csi', sensorId: n };
  }
  if (/^rtsps?:\/\//i.test(s)) return { kind: 'rtsp', url: checkUrl(s, bad) };
  if (/^https?:\/\//i.test(s)) return { kind: 'http', url: checkUrl(s, bad) };
  throw bad('unknown kind of source');
}

function checkUrl(s: string, bad: (why: string) => Error): string {
  try {
    const url = new URL(s);
    if (!url.hostname) throw new Error('no host');
  } catch {
    throw bad('not a valid URL');
  }
  return s;
}

/** Camera URLs often carry credentials: the agent's one redaction (config/redact.ts). */
export { redactUrl } from '../config/redact.js';
