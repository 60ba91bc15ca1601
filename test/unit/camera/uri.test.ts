import { describe, expect, it } from 'vitest';
import { parseSource, redactUrl } from '../../../src/camera/uri.js';
import { ConfigError } from '../../../src/errors.js';

describe('parseSource', () => {
  it.each([
    ['images:/data/frames', { kind: 'images', dir: '/data/frames' }],
    ['file:/videos/door.mp4', { kind: 'file', path: '/videos/door.mp4' }],
    ['synthetic', { kind: 'synthetic' }],
    ['v4l2:/dev/video2', { kind: 'v4l2', device: '/dev/video2' }],
    [
      'v4l2:/dev/v4l/by-id/usb-Logitech_C920-video-index0',
      { kind: 'v4l2', device: '/dev/v4l/by-id/usb-Logitech_C920-video-index0' },
    ],
    ['libcamera', { kind: 'libcamera', camera: 0 }],
    ['libcamera:1', { kind: 'libcamera', camera: 1 }],
    ['jetson-csi:0', { kind: 'jetson-csi', sensorId: 0 }],
    ['jetson-csi', { kind: 'jetson-csi', sensorId: 0 }],
    [
      'rtsp://user:pw@192.168.1.20:554/stream1',
      { kind: 'rtsp', url: 'rtsp://user:pw@192.168.1.20:554/stream1' },
    ],
    ['http://cam.local/video.mjpg', { kind: 'http', url: 'http://cam.local/video.mjpg' }],
    ['https://cdn.example/live/index.m3u8', { kind: 'http', url: 'https://cdn.example/live/index.m3u8' }],
  ])('%s', (source, expected) => {
    expect(parseSource(source)).toEqual(expected);
  });

  it.each([
    ['webcam', 'unknown kind of source'],
    ['v4l2:video0', 'needs a device path'],
    ['libcamera:x', 'camera index'],
    ['jetson-csi:-1', 'sensor id'],
    ['images:', 'needs a folder'],
    ['rtsp://', 'not a valid URL'],
  ])('refuses %s with a message naming the accepted forms', (source, why) => {
    const err = (() => {
      try {
        parseSource(source);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain(why);
    expect((err as Error).message).toContain('v4l2:/dev/videoN');
  });
});

describe('redactUrl', () => {
  it('hides the password of a camera URL, keeps the rest', () => {
    expect(redactUrl('rtsp://admin:s3cret@10.0.0.5:554/h264')).toBe('rtsp://admin:***@10.0.0.5:554/h264');
    expect(redactUrl('http://10.0.0.5/video.mjpg')).toBe('http://10.0.0.5/video.mjpg');
    expect(redactUrl('images:/tmp/x')).toBe('images:/tmp/x');
  });
});
