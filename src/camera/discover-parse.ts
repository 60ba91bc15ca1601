/** Parsers for what camera tools print (pure; tested on captured output). */

export interface CaptureFormat {
  /** ffmpeg's name (mjpeg, yuyv422, ...) or the V4L2 fourcc when ffmpeg does not support it. */
  format: string;
  description: string;
  compressed: boolean;
  /** `WxH`, or a stepwise range such as `{32-2592, 2}x{32-1944, 2}`. */
  sizes: string[];
  /** Frame rates per size where the tool reports them (v4l2-ctl). */
  fps?: Record<string, number[]>;
}

/** `ffmpeg -f v4l2 -list_formats all -i /dev/videoN` (its log, on stderr). */
export function parseFfmpegListFormats(text: string): CaptureFormat[] {
  const formats: CaptureFormat[] = [];
  for (const line of text.split(/\r?\n/)) {
    // Fields are separated by " : " (descriptions such as "YUYV 4:2:2" hold bare colons).
    const m = /\]\s*(Raw|Compressed|R|C)\s*:\s*(\S+)\s+:\s+(.*?)\s+:\s+(.*)$/.exec(line);
    if (!m) continue;
    formats.push({
      format: m[2]!,
      description: m[3]!,
      compressed: m[1]!.startsWith('C'),
      sizes: (m[4] ?? '').match(/\{[^}]*\}x\{[^}]*\}|\d+x\d+/g) ?? [],
    });
  }
  return formats;
}

const FOURCC_TO_FFMPEG: Record<string, string> = {
  MJPG: 'mjpeg',
  JPEG: 'mjpeg',
  YUYV: 'yuyv422',
  UYVY: 'uyvy422',
  NV12: 'nv12',
  YU12: 'yuv420p',
  H264: 'h264',
  RGB3: 'rgb24',
  BGR3: 'bgr24',
  GREY: 'gray',
};

/** `v4l2-ctl --list-formats-ext -d /dev/videoN`: formats with sizes and frame intervals. */
export function parseV4l2CtlFormats(text: string): CaptureFormat[] {
  const formats: CaptureFormat[] = [];
  let current: CaptureFormat | undefined;
  let size: string | undefined;
  for (const line of text.split(/\r?\n/)) {
    const f = /^\s*\[\d+\]:\s*'(\w{1,4})\s*'\s*\(([^)]*)\)/.exec(line);
    if (f) {
      const fourcc = f[1]!;
      const description = f[2]!;
      current = {
        format: FOURCC_TO_FFMPEG[fourcc] ?? fourcc,
        description: description.replace(/,\s*compressed$/, ''),
        compressed: /compressed/.test(description),
        sizes: [],
        fps: {},
      };
      formats.push(current);
      size = undefined;
      continue;
    }
    const s = /^\s*Size:\s*(?:Discrete|Stepwise)\s+(\S+(?:\s*-\s*\S+)?)/.exec(line);
    if (s && current) {
      size = s[1]!.replace(/\s+/g, '');
      current.sizes.push(size);
      continue;
    }
    const i = /Interval:.*\(([\d.]+) fps\)/.exec(line);
    if (i && current && size) {
      const fps = current.fps ?? {};
      fps[size] = [...(fps[size] ?? []), Number(i[1])];
      current.fps = fps;
    }
  }
  return formats;
}

export interface CsiCamera {
  index: number;
  sensor: string;
  /** Full sensor resolution. */
  width: number;
  height: number;
  modes: string[];
}

/** `rpicam-hello --list-cameras` (or `libcamera-hello`): the Pi's CSI cameras. */
export function parseRpicamList(text: string): CsiCamera[] {
  const cameras: CsiCamera[] = [];
  let current: CsiCamera | undefined;
  for (const line of text.split(/\r?\n/)) {
    const c = /^\s*(\d+)\s*:\s*(\S+)\s*\[(\d+)x(\d+)/.exec(line);
    if (c) {
      current = { index: Number(c[1]), sensor: c[2]!, width: Number(c[3]), height: Number(c[4]), modes: [] };
      cameras.push(current);
      continue;
    }
    const mode = /(\d+x\d+)\s*\[([\d.]+) fps/.exec(line);
    if (mode && current) current.modes.push(`${mode[1]}@${Math.round(Number(mode[2]))}`);
  }
  return cameras;
}
