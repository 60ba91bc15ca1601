import { describe, expect, it } from 'vitest';
import {
  buildCaptureCommand,
  type CaptureOptions,
  formatCommand,
  targetFilters,
} from '../../../src/camera/capture-command.js';
import type { FrameTarget } from '../../../src/camera/types.js';

const base: CaptureOptions = {
  fps: 15,
  inputFormat: 'auto',
  loop: true,
  realtime: true,
  rtspTransport: 'tcp',
  networkTimeoutS: 5,
  tools: { ffmpeg: '/usr/bin/ffmpeg' },
};

const yolox: FrameTarget = {
  width: 416,
  height: 416,
  resize: { mode: 'letterbox', align: 'top-left', padValue: 114 },
  colorOrder: 'BGR',
  planar: false,
};

/** The value following a flag in an argument list. */
const flagValue = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('buildCaptureCommand', () => {
  it('v4l2: asks the camera for format, size and rate, writes raw RGB to stdout', () => {
    const c = buildCaptureCommand(
      { kind: 'v4l2', device: '/dev/video0' },
      { ...base, inputFormat: 'mjpeg', width: 1280, height: 720 },
    );
    const a = c.ffmpeg.args;
    expect(c.ffmpeg.command).toBe('/usr/bin/ffmpeg');
    expect(a.slice(a.indexOf('-f'), a.indexOf('-i') + 2)).toEqual([
      '-f',
      'v4l2',
      '-input_format',
      'mjpeg',
      '-video_size',
      '1280x720',
      '-framerate',
      '15',
      '-i',
      '/dev/video0',
    ]);
    expect(flagValue(a, '-pix_fmt')).toBe('rgb24');
    expect(a[a.length - 1]).toBe('pipe:1');
    expect(flagValue(a, '-vf')).toBe('format=rgb24');
    expect(c.producer).toBeUndefined();
    expect(c.endsOnCleanExit).toBe(false);
  });

  it('v4l2 with format auto leaves the pixel format to the driver', () => {
    const a = buildCaptureCommand({ kind: 'v4l2', device: '/dev/video1' }, base).ffmpeg.args;
    expect(a).not.toContain('-input_format');
    expect(a).not.toContain('-video_size');
  });

  it('rtsp: TCP transport and a socket timeout in microseconds, named per ffmpeg version', () => {
    const url = 'rtsp://u:p@10.0.0.9/stream';
    const v5 = buildCaptureCommand({ kind: 'rtsp', url }, { ...base, ffmpegMajor: 5 }).ffmpeg.args;
    expect(flagValue(v5, '-rtsp_transport')).toBe('tcp');
    expect(flagValue(v5, '-timeout')).toBe('5000000');
    expect(v5.indexOf('-timeout')).toBeLessThan(v5.indexOf('-i'));
    expect(flagValue(v5, '-i')).toBe(url);
    const v4 = buildCaptureCommand({ kind: 'rtsp', url }, { ...base, ffmpegMajor: 4, rtspTransport: 'udp' })
      .ffmpeg.args;
    expect(flagValue(v4, '-stimeout')).toBe('5000000');
    expect(v4).not.toContain('-timeout');
    expect(flagValue(v4, '-rtsp_transport')).toBe('udp');
  });

  it('http: read timeout; MJPEG URLs are read as multipart JPEG, HLS playlists are probed', () => {
    const mjpeg = buildCaptureCommand({ kind: 'http', url: 'http://cam/video.mjpg' }, base).ffmpeg.args;
    expect(flagValue(mjpeg, '-rw_timeout')).toBe('5000000');
    expect(flagValue(mjpeg, '-f')).toBe('mpjpeg');
    const hls = buildCaptureCommand({ kind: 'http', url: 'https://cam/live/index.m3u8' }, base).ffmpeg.args;
    expect(hls.slice(0, hls.indexOf('-i'))).not.toContain('mpjpeg');
  });

  it('http: redirects as configured (ffmpeg ≥ 5; 4.x has no such option)', () => {
    const url = { kind: 'http', url: 'http://cam/video.mjpg' } as const;
    const none = buildCaptureCommand(url, { ...base, maxRedirects: 0 }).ffmpeg.args;
    expect(flagValue(none, '-max_redirects')).toBe('0');
    expect(none.indexOf('-max_redirects')).toBeLessThan(none.indexOf('-i'));
    const three = buildCaptureCommand(url, { ...base, maxRedirects: 3, ffmpegMajor: 6 }).ffmpeg.args;
    expect(flagValue(three, '-max_redirects')).toBe('3');
    const old = buildCaptureCommand(url, { ...base, maxRedirects: 0, ffmpegMajor: 4 }).ffmpeg.args;
    expect(old).not.toContain('-max_redirects');
    const rtsp = buildCaptureCommand({ kind: 'rtsp', url: 'rtsp://cam/s' }, { ...base, maxRedirects: 0 });
    expect(rtsp.ffmpeg.args).not.toContain('-max_redirects');
  });

  it('file: realtime and loop flags; a file played once ends the source on a clean exit', () => {
    const looped = buildCaptureCommand({ kind: 'file', path: '/v/a.mp4' }, base);
    expect(
      looped.ffmpeg.args.slice(looped.ffmpeg.args.indexOf('-re'), looped.ffmpeg.args.indexOf('-i')),
    ).toEqual(['-re', '-stream_loop', '-1']);
    expect(looped.endsOnCleanExit).toBe(false);
    const once = buildCaptureCommand(
      { kind: 'file', path: '/v/a.mp4' },
      { ...base, loop: false, realtime: false },
    );
    expect(once.ffmpeg.args).not.toContain('-re');
    expect(once.ffmpeg.args).not.toContain('-stream_loop');
    expect(once.endsOnCleanExit).toBe(true);
  });

  it('libcamera: rpicam-vid streams MJPEG to stdout, ffmpeg reads it from stdin', () => {
    const c = buildCaptureCommand(
      { kind: 'libcamera', camera: 1 },
      { ...base, width: 1280, height: 720, tools: { ffmpeg: 'ffmpeg', rpicam: '/usr/bin/rpicam-vid' } },
    );
    expect(c.producer?.command).toBe('/usr/bin/rpicam-vid');
    const p = c.producer!.args;
    expect(flagValue(p, '-t')).toBe('0');
    expect(flagValue(p, '--codec')).toBe('mjpeg');
    expect(flagValue(p, '--camera')).toBe('1');
    expect(flagValue(p, '--width')).toBe('1280');
    expect(flagValue(p, '--framerate')).toBe('15');
    expect(flagValue(p, '-o')).toBe('-');
    expect(p).toContain('-n');
    expect(flagValue(c.ffmpeg.args, '-i')).toBe('pipe:0');
    expect(flagValue(c.ffmpeg.args, '-f')).toBe('mjpeg');
  });

  it('jetson-csi: an nvarguscamerasrc pipeline writing I420 to stdout, size known in advance', () => {
    const c = buildCaptureCommand(
      { kind: 'jetson-csi', sensorId: 1 },
      { ...base, fps: 30, tools: { ffmpeg: 'ffmpeg', gstLaunch: 'gst-launch-1.0' } },
    );
    expect(c.producer?.command).toBe('gst-launch-1.0');
    expect(c.producer?.args.slice(0, 4)).toEqual(['-q', '-e', 'nvarguscamerasrc', 'sensor-id=1']);
    expect(c.producer?.args).toContain('video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1');
    expect(c.producer?.args.slice(-2)).toEqual(['fdsink', 'fd=1']);
    expect(flagValue(c.ffmpeg.args, '-pix_fmt')).toBe('yuv420p');
    expect(flagValue(c.ffmpeg.args, '-video_size')).toBe('1280x720');
    expect(c.sourceSize).toEqual({ width: 1280, height: 720 });
  });

  it('an NCHW model gets planar frames (gbrp), one plane per channel', () => {
    const c = buildCaptureCommand(
      { kind: 'v4l2', device: '/dev/video0' },
      { ...base, target: { ...yolox, planar: true } },
    );
    expect(c.pixelFormat).toBe('gbrp');
    expect(flagValue(c.ffmpeg.args, '-pix_fmt')).toBe('gbrp');
    expect(flagValue(c.ffmpeg.args, '-vf')).toContain('format=gbrp,pad=');
  });

  it('with a target, ffmpeg scales and pads to the model input in its colour order', () => {
    const c = buildCaptureCommand({ kind: 'v4l2', device: '/dev/video0' }, { ...base, target: yolox });
    expect(c.pixelFormat).toBe('bgr24');
    expect(flagValue(c.ffmpeg.args, '-pix_fmt')).toBe('bgr24');
    expect(c.outputSize).toEqual({ width: 416, height: 416 });
    expect(flagValue(c.ffmpeg.args, '-vf')).toBe(targetFilters(yolox, 'bgr24').join(','));
  });

  it('files and streams are scaled to a configured size, which is then the camera size', () => {
    const c = buildCaptureCommand({ kind: 'file', path: '/v/a.mp4' }, { ...base, width: 320, height: 240 });
    expect(flagValue(c.ffmpeg.args, '-vf')).toBe('scale=320:240,format=rgb24');
    expect(c.sourceSize).toEqual({ width: 320, height: 240 });
    expect(c.outputSize).toEqual({ width: 320, height: 240 });
  });

  it('formats a command line for logs with shell quoting', () => {
    expect(formatCommand({ command: 'ffmpeg', args: ['-vf', "scale=w='1':h=2", '-i', 'a b.mp4'] })).toBe(
      `ffmpeg -vf 'scale=w='\\''1'\\'':h=2' -i 'a b.mp4'`,
    );
  });
});

describe('targetFilters', () => {
  it('letterbox: planResize rounding as ffmpeg expressions, format before pad, grey padding', () => {
    expect(targetFilters(yolox, 'bgr24')).toEqual([
      "scale=w='max(1,min(416,round(iw*min(416/iw,416/ih))))':h='max(1,min(416,round(ih*min(416/iw,416/ih))))'",
      'format=bgr24',
      "pad=416:416:'0':'0':color=0x727272",
    ]);
  });

  it('letterbox centred pads symmetrically (floor)', () => {
    const f = targetFilters(
      { ...yolox, resize: { mode: 'letterbox', align: 'center', padValue: 0 } },
      'rgb24',
    );
    expect(f[2]).toBe("pad=416:416:'floor((ow-iw)/2)':'floor((oh-ih)/2)':color=0x000000");
  });

  it('stretch and center-crop', () => {
    expect(targetFilters({ ...yolox, resize: { mode: 'stretch' } }, 'rgb24')).toEqual([
      'scale=416:416',
      'format=rgb24',
    ]);
    const crop = targetFilters(
      {
        width: 224,
        height: 224,
        resize: { mode: 'center-crop', shortSide: 256 },
        colorOrder: 'RGB',
        planar: true,
      },
      'rgb24',
    );
    expect(crop[0]).toBe("scale=w='max(224,round(iw*256/min(iw,ih)))':h='max(224,round(ih*256/min(iw,ih)))'");
    expect(crop[2]).toBe("crop=224:224:'floor((iw-224)/2)':'floor((ih-224)/2)'");
  });
});
