import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log.js';

/** A logger at `level` writing into an array of parsed lines. */
function capture(level: 'trace' | 'debug' | 'info') {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines };
}

const SECRETS = [
  'hunter2-password',
  'tok-0123456789abcdef',
  'rtsp-pass-77',
  'mqtt-secret-99',
  'pem-key-body',
];

describe('log redaction applies at every level (debug and trace carry payloads)', () => {
  it.each(['trace', 'debug', 'info'] as const)(
    'at %s: nested secrets, URL credentials, errors, messages',
    (level) => {
      const { log, lines } = capture(level);
      const child = log.child({ component: 'fleet' });
      // What debug lines carry: a command payload, a config excerpt, a camera status, an error.
      child[level === 'info' ? 'info' : level](
        {
          request: { command: 'set-config', params: { patch: { http: { token: 'tok-0123456789abcdef' } } } },
          config: { mqtt: { tls: { key: 'pem-key-body', passphrase: 'mqtt-secret-99' } } },
          deep: { a: { b: { c: { password: 'hunter2-password' } } } },
          sources: ['rtsp://admin:rtsp-pass-77@10.0.0.5/h264'],
          err: new Error('connect to rtsp://admin:rtsp-pass-77@10.0.0.5/h264 failed'),
        },
        'camera rtsp://admin:rtsp-pass-77@10.0.0.5/h264 offline',
      );
      child.error(new Error('mqtt://u:mqtt-secret-99@broker:1883 refused'), 'link down');
      expect(lines).toHaveLength(2);
      const text = JSON.stringify(lines);
      for (const secret of SECRETS) expect(text).not.toContain(secret);
      interface Line {
        msg: string;
        component: string;
        deep: { a: { b: { c: { password: string } } } };
        request: { params: { patch: { http: { token: string } } } };
        sources: string[];
        err: { type: string; message: string; stack: string };
      }
      const [first, second] = lines as unknown as [Line, Line];
      expect(first.msg).toBe('camera rtsp://admin:***@10.0.0.5/h264 offline');
      expect(first.deep.a.b.c.password).toBe('[redacted]');
      expect(first.request.params.patch.http.token).toBe('[redacted]');
      expect(first.sources).toEqual(['rtsp://admin:***@10.0.0.5/h264']);
      // Errors keep their shape (type, message, stack), redacted.
      expect(first.err).toMatchObject({
        type: 'Error',
        message: 'connect to rtsp://admin:***@10.0.0.5/h264 failed',
      });
      expect(first.err.stack).toContain('rtsp://admin:***@');
      expect(second).toMatchObject({
        msg: 'link down',
        err: { message: 'mqtt://u:***@broker:1883 refused' },
      });
      expect(first.component).toBe('fleet');
    },
  );
});
