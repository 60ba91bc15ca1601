import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { redactSecrets, redactUrl } from '../../../src/config/redact.js';

describe('redactUrl (the one for cameras, brokers and logs)', () => {
  it.each([
    ['rtsp://admin:s3cret@10.0.0.5:554/h264', 'rtsp://admin:***@10.0.0.5:554/h264'],
    ['mqtts://fleet:p%40ss@broker.lan:8883', 'mqtts://fleet:***@broker.lan:8883'],
    ['mqtt://u:p@ss@host:1883', 'mqtt://u:***@host:1883'],
    [
      'ffmpeg -rtsp_transport tcp -i rtsp://a:b@cam/x -f null -',
      'ffmpeg -rtsp_transport tcp -i rtsp://a:***@cam/x -f null -',
    ],
    ['http://10.0.0.5/video.mjpg', 'http://10.0.0.5/video.mjpg'],
    ['http://10.0.0.5:8080/a@b', 'http://10.0.0.5:8080/a@b'],
    ['mqtt://user-only@host', 'mqtt://user-only@host'],
    ['images:/tmp/x', 'images:/tmp/x'],
    ['embedded', 'embedded'],
  ])('%s', (input, expected) => {
    expect(redactUrl(input)).toBe(expected);
  });
});

describe('redactSecrets', () => {
  it('replaces secret-named keys at any depth (case-insensitive, `secret` included) and URL passwords', () => {
    expect(
      redactSecrets({
        mqtt: { url: 'mqtt://u:pw@h:1883', password: 'x', Token: 't' },
        signing: { secret: 's', key: 'k' },
        list: ['rtsp://q:w@e/s', 3, null],
        fine: 'no secret here',
      }),
    ).toEqual({
      mqtt: { url: 'mqtt://u:***@h:1883', password: '[redacted]', Token: '[redacted]' },
      signing: { secret: '[redacted]', key: '[redacted]' },
      list: ['rtsp://q:***@e/s', 3, null],
      fine: 'no secret here',
    });
  });

  it('leaves an absent secret absent and bounds absurd nesting', () => {
    expect(redactSecrets({ password: undefined })).toEqual({ password: undefined });
    let deep: unknown = 'rtsp://a:b@c';
    for (let i = 0; i < 100; i++) deep = { a: deep };
    expect(JSON.stringify(redactSecrets(deep))).not.toContain(':b@');
  });

  it('a whole config: nothing secret survives', () => {
    const config = parseConfig({
      camera: { source: 'rtsp://cam:campass@10.0.0.5/s' },
      mqtt: { url: 'mqtt://fleet:brokerpass@broker:1883', password: 'brokerpass' },
      http: { token: 'a-token-of-sixteen-chars' },
    });
    const text = JSON.stringify(redactSecrets(config));
    for (const secret of ['campass', 'brokerpass', 'a-token-of-sixteen-chars'])
      expect(text).not.toContain(secret);
  });
});
