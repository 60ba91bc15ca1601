import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { isLoopbackHost } from '../../../src/config/schema.js';
import { ConfigError } from '../../../src/errors.js';
import {
  bearerToken,
  cookieValue,
  isAuthorized,
  isPublicPath,
  SESSION_COOKIE,
  safeEqual,
  sessionValue,
} from '../../../src/http/auth.js';
import { modelsView } from '../../../src/http/models-view.js';
import { MJPEG_BOUNDARY, parseMjpegParts } from '../../../src/http/stream.js';
import type { ModelEntry } from '../../../src/models/catalog.js';
import { overlaySvg } from '../../../src/pipeline/annotate.js';
import type { FrameResult } from '../../../src/pipeline/pipeline.js';

describe('auth', () => {
  const token = 'x'.repeat(20);
  it('accepts the bearer token or a session cookie made from it, nothing else', () => {
    expect(isAuthorized({ authorization: `Bearer ${token}` }, token)).toBe(true);
    expect(isAuthorized({ authorization: `bearer ${token}` }, token)).toBe(true);
    expect(isAuthorized({ authorization: `Bearer ${token}x` }, token)).toBe(false);
    expect(isAuthorized({ authorization: `Basic ${token}` }, token)).toBe(false);
    expect(isAuthorized({}, token)).toBe(false);
    expect(isAuthorized({ cookie: `a=b; ${SESSION_COOKIE}=${sessionValue(token)}` }, token)).toBe(true);
    expect(isAuthorized({ cookie: `${SESSION_COOKIE}=${token}` }, token)).toBe(false);
    expect(sessionValue(token)).not.toContain(token);
  });

  it('parses headers', () => {
    expect(bearerToken('Bearer abc ')).toBe('abc');
    expect(bearerToken('Bearer')).toBeUndefined();
    expect(cookieValue('a=1; b=two%20words', 'b')).toBe('two words');
    expect(safeEqual('a', 'a')).toBe(true);
    expect(safeEqual('a', 'ab')).toBe(false);
  });

  it.each([
    ['GET', '/healthz', true],
    ['GET', '/', true],
    ['GET', '/app.js?v=1', true],
    ['GET', '/vendor/uPlot.iife.min.js', true],
    ['POST', '/api/session', true],
    ['GET', '/api/status', false],
    ['GET', '/metrics', false],
    ['POST', '/api/infer', false],
    ['GET', '/api/stream.mjpg', false],
    ['POST', '/', false],
  ])('%s %s public: %s', (method, url, expected) => {
    expect(isPublicPath(method, url)).toBe(expected);
  });

  it('config: a non-loopback host needs a token; loopback forms are recognised', () => {
    expect(['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]'].every(isLoopbackHost)).toBe(true);
    expect(['0.0.0.0', '192.168.1.5', '::', 'edge.local'].some(isLoopbackHost)).toBe(false);
    expect(() => parseConfig({ http: { host: '0.0.0.0' } })).toThrow(ConfigError);
    try {
      parseConfig({ http: { host: '0.0.0.0' } });
    } catch (err) {
      expect((err as ConfigError).problems.join('\n')).toContain('http.token');
    }
    expect(parseConfig({ http: { host: '0.0.0.0', token: 'sixteen-chars-ok' } }).http.host).toBe('0.0.0.0');
  });
});

const result = (over: Partial<FrameResult>): FrameResult => ({
  model: 'yolox-nano',
  variant: 'fp32',
  task: 'detection',
  imageWidth: 640,
  imageHeight: 480,
  detections: [],
  timings: { captureAgeMs: 1, preprocessMs: 1, inferenceMs: 14.2, postprocessMs: 0.1, totalMs: 20 },
  seq: 7,
  origin: 'cam',
  capturedAtMs: 0,
  completedAtMs: 20,
  preparePath: 'fill',
  ...over,
});

describe('overlaySvg', () => {
  it('draws each detection scaled to the displayed image, labels escaped', () => {
    const svg = overlaySvg(
      result({ detections: [{ label: 'cat & <dog>', classId: 15, score: 0.876, box: [100, 50, 300, 250] }] }),
      320,
      240,
      0.5,
    );
    expect(svg).toContain('<rect x="50" y="25" width="100" height="100"');
    expect(svg).toContain('cat &amp; &lt;dog&gt; 88%');
    expect(svg).toContain('yolox-nano/fp32 · 14.2 ms · #7');
  });

  it('writes the top classes for classifiers', () => {
    const svg = overlaySvg(
      result({
        task: 'classification',
        detections: undefined,
        classes: [{ label: 'tabby', classId: 281, score: 0.61 }],
      }),
      224,
      224,
      1,
    );
    expect(svg).toContain('tabby 61.0%');
  });
});

describe('parseMjpegParts', () => {
  it('splits parts and keeps an incomplete tail', () => {
    const part = (body: string) =>
      `--${MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${body.length}\r\n\r\n${body}\r\n`;
    const all = Buffer.from(part('abc') + part('defgh') + part('ijkl').slice(0, -4));
    const { parts, rest } = parseMjpegParts(all);
    expect(parts.map((p) => p.toString())).toEqual(['abc', 'defgh']);
    expect(rest.toString()).toContain('Content-Length: 4');
  });
});

describe('modelsView', () => {
  it('marks the active variant and merges measured latency', () => {
    const entry = {
      manifest: {
        name: 'm',
        task: 'detection',
        description: '',
        license: 'MIT',
        defaultVariant: 'fp32',
        input: { width: 416, height: 416, dtype: 'float32', layout: 'NCHW' },
      },
      variants: [
        {
          id: 'fp32',
          precision: 'fp32',
          bytes: 10,
          derived: false,
          origin: { kind: 'shipped' },
          reference: null,
          quality: { fidelity: 1 },
        },
        {
          id: 'u8',
          precision: 'fp32',
          bytes: 11,
          derived: true,
          origin: { kind: 'derived', method: 'input-uint8' },
          reference: 'fp32',
          input: { dtype: 'uint8', layout: 'NHWC' },
        },
      ],
    } as unknown as ModelEntry;
    const [view] = modelsView(
      [entry],
      { model: 'm', variant: 'u8' },
      new Map([['m/u8', { count: 5, meanMs: 9, p50Ms: 9, p95Ms: 12, p99Ms: 12, maxMs: 12 }]]),
    );
    expect(view!.variants.map((v) => [v.id, v.active, v.latencyP50Ms, v.origin, v.input.dtype])).toEqual([
      ['fp32', false, undefined, 'shipped', 'float32'],
      ['u8', true, 9, 'derived (input-uint8)', 'uint8'],
    ]);
  });
});
