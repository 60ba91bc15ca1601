import type { FrameTarget } from './types.js';
import type { SourceSpec } from './uri.js';

/**
 * Command lines of the capture processes (pure). Every live source ends in one ffmpeg process that
 * writes raw 8-bit frames to stdout; Pi and Jetson CSI cameras add a producer in front of it
 * (rpicam-vid / gst-launch-1.0) whose stdout feeds ffmpeg's stdin. When a target is given, ffmpeg
 * also scales, pads or crops the frames to the model input in its own process.
 */

export interface CaptureOptions {
  /** Requested camera frame rate (v4l2, libcamera, jetson-csi). */
  fps: number;
  /** Requested capture size; for files and network streams the frames are scaled to it. */
  width?: number;
  height?: number;
  /** v4l2 pixel format to ask the camera for. */
  inputFormat: 'auto' | 'mjpeg' | 'yuyv422';
  /** file: start over at the end. */
  loop: boolean;
  /** file: deliver at the video's own frame rate (like a camera) rather than as fast as possible. */
  realtime: boolean;
  rtspTransport: 'tcp' | 'udp';
  /** Network socket timeout for connecting and reading. */
  networkTimeoutS: number;
  /** HTTP: redirects ffmpeg may follow (its own default is 8); absent: ffmpeg's default. */
  maxRedirects?: number;
  target?: FrameTarget;
  /** Installed ffmpeg major version; 4.x names the RTSP socket timeout differently. */
  ffmpegMajor?: number;
  /** Resolved tool paths. */
  tools: { ffmpeg: string; rpicam?: string; gstLaunch?: string };
}

export interface ProcessCommand {
  command: string;
  args: string[];
}

export interface CaptureCommand {
  /** Feeds ffmpeg's stdin (rpicam-vid, gst-launch-1.0). */
  producer?: ProcessCommand;
  ffmpeg: ProcessCommand;
  /** Pixel layout of the raw frames on stdout. */
  pixelFormat: PixelFormat;
  /** Size of the frames on stdout when fixed by the command (a target or a configured size). */
  outputSize?: { width: number; height: number };
  /** Size of the camera image when the command fixes it (raw inputs); otherwise read from ffmpeg's log. */
  sourceSize?: { width: number; height: number };
  /** A clean exit ends the source (a file played once) instead of being restarted. */
  endsOnCleanExit: boolean;
}

export type PixelFormat = 'rgb24' | 'bgr24' | 'gbrp';

const JETSON_DEFAULT = { width: 1280, height: 720 };

/** The raw format ffmpeg writes for a target: planar for NCHW models, else in the model's order. */
export function pixelFormatFor(target: FrameTarget | undefined): PixelFormat {
  if (!target) return 'rgb24';
  if (target.planar) return 'gbrp';
  return target.colorOrder === 'BGR' ? 'bgr24' : 'rgb24';
}

export function buildCaptureCommand(spec: SourceSpec, o: CaptureOptions): CaptureCommand {
  const input: string[] = [];
  let producer: ProcessCommand | undefined;
  let sourceSize: CaptureCommand['sourceSize'];
  const fps = formatNumber(o.fps);
  switch (spec.kind) {
    case 'file':
      if (o.realtime) input.push('-re');
      if (o.loop) input.push('-stream_loop', '-1');
      input.push('-i', spec.path);
      break;
    case 'v4l2':
      input.push('-f', 'v4l2');
      if (o.inputFormat !== 'auto') input.push('-input_format', o.inputFormat);
      if (o.width && o.height) input.push('-video_size', `${o.width}x${o.height}`);
      input.push('-framerate', fps, '-i', spec.device);
      break;
    case 'rtsp': {
      const timeoutFlag = (o.ffmpegMajor ?? 5) < 5 ? '-stimeout' : '-timeout';
      input.push('-rtsp_transport', o.rtspTransport, timeoutFlag, micros(o.networkTimeoutS));
      input.push('-fflags', 'nobuffer', '-i', spec.url);
      break;
    }
    case 'http':
      input.push('-rw_timeout', micros(o.networkTimeoutS), '-fflags', 'nobuffer');
      // ffmpeg 4.x has no such option (it follows up to 8 redirects); see docs/camera.md.
      if (o.maxRedirects !== undefined && (o.ffmpegMajor ?? 5) >= 5)
        input.push('-max_redirects', String(o.maxRedirects));
      if (/\.(mjpe?g|cgi)(\?|$)/i.test(spec.url)) input.push('-f', 'mpjpeg');
      input.push('-i', spec.url);
      break;
    case 'libcamera': {
      const args = ['-t', '0', '-n', '--codec', 'mjpeg', '--flush', '--camera', String(spec.camera)];
      if (o.width && o.height) args.push('--width', String(o.width), '--height', String(o.height));
      args.push('--framerate', fps, '-o', '-');
      producer = { command: o.tools.rpicam ?? 'rpicam-vid', args };
      input.push('-f', 'mjpeg', '-i', 'pipe:0');
      break;
    }
    case 'jetson-csi': {
      const size = o.width && o.height ? { width: o.width, height: o.height } : JETSON_DEFAULT;
      sourceSize = size;
      const caps = `video/x-raw(memory:NVMM),width=${size.width},height=${size.height},framerate=${Math.round(o.fps)}/1`;
      producer = {
        command: o.tools.gstLaunch ?? 'gst-launch-1.0',
        args: [
          '-q',
          '-e',
          'nvarguscamerasrc',
          `sensor-id=${spec.sensorId}`,
          '!',
          caps,
          '!',
          'nvvidconv',
          '!',
        ].concat(['video/x-raw,format=I420', '!', 'fdsink', 'fd=1']),
      };
      input.push('-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-video_size', `${size.width}x${size.height}`);
      input.push('-framerate', fps, '-i', 'pipe:0');
      break;
    }
    case 'images':
    case 'synthetic':
      throw new Error(`${spec.kind} sources do not use ffmpeg`);
  }

  const pixelFormat = pixelFormatFor(o.target);
  const filters: string[] = [];
  let outputSize: CaptureCommand['outputSize'];
  const scaleToConfigured = spec.kind === 'file' || spec.kind === 'rtsp' || spec.kind === 'http';
  if (scaleToConfigured && o.width && o.height) {
    filters.push(`scale=${o.width}:${o.height}`);
    sourceSize = { width: o.width, height: o.height };
  }
  if (o.target) {
    filters.push(...targetFilters(o.target, pixelFormat));
    outputSize = { width: o.target.width, height: o.target.height };
  } else {
    filters.push(`format=${pixelFormat}`);
    outputSize = sourceSize;
  }
  const args = ['-hide_banner', '-nostdin', '-nostats', '-loglevel', 'info', ...input];
  args.push(
    '-an',
    '-sn',
    '-dn',
    '-vf',
    filters.join(','),
    '-f',
    'rawvideo',
    '-pix_fmt',
    pixelFormat,
    'pipe:1',
  );
  return {
    ...(producer ? { producer } : {}),
    ffmpeg: { command: o.tools.ffmpeg, args },
    pixelFormat,
    ...(outputSize ? { outputSize } : {}),
    ...(sourceSize ? { sourceSize } : {}),
    endsOnCleanExit: spec.kind === 'file' && !o.loop,
  };
}

/**
 * ffmpeg filters that reproduce `planResize` (src/image/geometry.ts) for any input size, with
 * the same rounding, so the JavaScript side can compute the inverse transform from the input size.
 * The pixel format is set before padding: pad aligns offsets to chroma subsampling in YUV (RGB
 * formats, packed or planar, have none).
 */
export function targetFilters(target: FrameTarget, pixelFormat: PixelFormat): string[] {
  const W = target.width;
  const H = target.height;
  const r = target.resize;
  switch (r.mode) {
    case 'stretch':
      return [`scale=${W}:${H}`, `format=${pixelFormat}`];
    case 'letterbox': {
      const ratio = `min(${W}/iw,${H}/ih)`;
      const w = `max(1,min(${W},round(iw*${ratio})))`;
      const h = `max(1,min(${H},round(ih*${ratio})))`;
      const x = r.align === 'center' ? 'floor((ow-iw)/2)' : '0';
      const y = r.align === 'center' ? 'floor((oh-ih)/2)' : '0';
      const grey = Math.round(r.padValue).toString(16).padStart(2, '0');
      return [
        `scale=w='${w}':h='${h}'`,
        `format=${pixelFormat}`,
        `pad=${W}:${H}:'${x}':'${y}':color=0x${grey.repeat(3)}`,
      ];
    }
    case 'center-crop': {
      const s = `${r.shortSide}/min(iw,ih)`;
      return [
        `scale=w='max(${W},round(iw*${s}))':h='max(${H},round(ih*${s}))'`,
        `format=${pixelFormat}`,
        `crop=${W}:${H}:'floor((iw-${W})/2)':'floor((ih-${H})/2)'`,
      ];
    }
  }
}

function micros(seconds: number): string {
  return String(Math.round(seconds * 1_000_000));
}

function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(3).replace(/0+$/, '');
}

/** A command line as one shell-quoted string, for logs (passwords in URLs redacted by the caller). */
export function formatCommand(c: ProcessCommand): string {
  return [c.command, ...c.args]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}
