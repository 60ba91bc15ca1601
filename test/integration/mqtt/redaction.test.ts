import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent.js';
import { loadConfig } from '../../../src/config/index.js';
import { EmbeddedBroker } from '../../../src/fleet/embedded-broker.js';
import { silentLogger } from '../../../src/log.js';
import { MODELS } from '../../helpers/paths.js';
import { Observer, request, waitUntil } from './support.js';

/**
 * Issue 12 item 3: credentials inside URLs (a camera's rtsp://user:pass@, the broker's
 * mqtt://user:pass@) never appear in any output of a running agent: the log (the "agent started"
 * line and every other), the retained info, get-config, set-config's answer and the audit table.
 */
const CAMERA_PASS = 'campass-1234';
const BROKER_PASS = 'brokerpass-5678';
const NEW_PASS = 'newcampass-9012';

describe('secrets inside URLs are redacted in every output', () => {
  let broker: EmbeddedBroker;
  let agent: Agent;
  let observer: Observer;
  let dir: string;
  let logged = '';
  const P = 'redact-test';

  beforeAll(async () => {
    broker = await EmbeddedBroker.start({ host: '127.0.0.1', port: 0, log: silentLogger() });
    dir = mkdtempSync(path.join(tmpdir(), 'ea-redact-'));
    const file = path.join(dir, 'agent.config.json');
    const brokerUrl = broker.url.replace('mqtt://', `mqtt://fleet:${BROKER_PASS}@`);
    writeFileSync(
      file,
      JSON.stringify({
        deviceId: 'redact',
        dataDir: path.join(dir, 'data'),
        models: { dir: MODELS, default: 'yolox-nano' },
        inference: { threads: 1 },
        // Nothing listens on port 9: the camera stays offline and keeps retrying.
        camera: { source: `rtsp://cam:${CAMERA_PASS}@127.0.0.1:9/stream` },
        http: { enabled: false },
        mqtt: { url: brokerUrl, prefix: P, password: BROKER_PASS },
      }),
    );
    const sink = new Writable({
      write(chunk, _enc, done) {
        logged += chunk.toString();
        done();
      },
    });
    agent = new Agent({
      config: loadConfig({ file, env: {} }).config,
      configFile: file,
      log: pino({ level: 'debug' }, sink),
    });
    await agent.start();
    observer = await Observer.connect(broker.url, { protocolVersion: 4 }, [`${P}/redact/info`]);
    await waitUntil(
      () => observer.on(`${P}/redact/info`)[0],
      20_000,
      () => 'no retained info',
    );
  }, 60_000);

  afterAll(async () => {
    await observer?.close();
    await agent?.stop();
    await broker?.stop();
  });

  it('the retained info shows the URLs without their passwords', () => {
    const info = observer.json(`${P}/redact/info`).at(-1) as {
      config: Record<string, Record<string, unknown>>;
    };
    expect(info.config.camera?.source).toBe('rtsp://cam:***@127.0.0.1:9/stream');
    expect(String(info.config.mqtt?.url)).toMatch(/^mqtt:\/\/fleet:\*\*\*@127\.0\.0\.1:\d+$/);
    expect(info.config.mqtt?.password).toBe('[redacted]');
  });

  it('get-config and set-config answer without the passwords; the audit table keeps none', async () => {
    const got = await request(observer, P, 'redact', 'get-config', {}, 10_000);
    expect(got.status).toBe('ok');
    expect(JSON.stringify(got)).not.toMatch(new RegExp(`${CAMERA_PASS}|${BROKER_PASS}`));
    const set = await request(
      observer,
      P,
      'redact',
      'set-config',
      { patch: { camera: { source: `rtsp://cam:${NEW_PASS}@192.0.2.9:9/other` } } },
      10_000,
    );
    expect(set).toMatchObject({ status: 'ok', data: { restartRequired: ['camera.source'] } });
    expect(JSON.stringify(set)).not.toContain(NEW_PASS);
    const db = new Database(path.join(dir, 'data', 'edge-agent.db'), { readonly: true });
    const audit = JSON.stringify(db.prepare('SELECT * FROM command_audit').all());
    db.close();
    expect(audit).toContain('set-config');
    expect(audit).toContain('rtsp://cam:***@192.0.2.9:9/other');
    expect(audit).not.toContain(NEW_PASS);
  });

  it('the log, from "agent started" on, never holds a password', () => {
    const started = logged
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; source?: string })
      .find((l) => l.msg === 'agent started');
    expect(started?.source).toBe('rtsp://cam:***@127.0.0.1:9/stream');
    for (const secret of [CAMERA_PASS, BROKER_PASS, NEW_PASS]) expect(logged).not.toContain(secret);
  });
});
