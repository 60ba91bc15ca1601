import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { HarnessProcess, Observer, online, request, startDevice, waitUntil } from './support.js';

const run = requireMosquitto();
const P = 'edge-agent';
const TLS = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/tls');

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function broker(options: Parameters<typeof Mosquitto.start>[0] = {}) {
  const b = await Mosquitto.start(options);
  cleanups.push(() => b.stop());
  return b;
}

async function observer(url: string, subscribe: string[] = [], options = {}) {
  const o = await Observer.connect(url, options, subscribe);
  cleanups.push(() => o.close());
  return o;
}

async function device(id: string, mqtt: Record<string, unknown>) {
  const d = await startDevice(id, mqtt);
  cleanups.push(() => d.stop());
  await online(d);
  return d;
}

describe.runIf(run)('MQTT protocol against a real Mosquitto (MQTT 5)', () => {
  it('retained online + info for late subscribers, offline on a clean stop', async () => {
    const b = await broker();
    const d = await startDevice('cam-1', { url: b.url });
    await online(d);
    expect(d.fleet.status().link.protocolVersion).toBe(5);
    const late = await observer(b.url, [`${P}/cam-1/availability`, `${P}/cam-1/info`]);
    await waitUntil(() => late.messages.length >= 2, 5000);
    expect(late.on(`${P}/cam-1/availability`)[0]).toMatchObject({ retain: true });
    expect(late.on(`${P}/cam-1/availability`)[0]!.payload.toString()).toBe('online');
    expect(late.json(`${P}/cam-1/info`)[0]).toMatchObject({ deviceId: 'cam-1', variant: 'fp32' });
    await d.stop();
    await waitUntil(() => late.on(`${P}/cam-1/availability`).at(-1)?.payload.toString() === 'offline', 5000);
  });

  it('honours MQTT 5 responseTopic and correlationData, and refuses a responseTopic that would loop', async () => {
    const b = await broker();
    await device('cam-2', { url: b.url });
    const o = await observer(b.url, ['replies/me', `${P}/cam-2/response/+`, `${P}/cam-2/request/+`]);
    const correlationData = Buffer.from('corr-42');
    await o.client.publishAsync(`${P}/cam-2/request/ping`, '{"transaction":"x1"}', {
      qos: 1,
      properties: { responseTopic: 'replies/me', correlationData },
    });
    await waitUntil(() => o.on('replies/me').length === 1, 5000);
    const reply = o.messages.find((m) => m.topic === 'replies/me')!;
    expect(JSON.parse(reply.payload.toString())).toMatchObject({
      status: 'ok',
      transaction: 'x1',
      device: 'cam-2',
    });
    expect(Buffer.from(reply.properties?.correlationData as Buffer).toString()).toBe('corr-42');
    // A responseTopic pointing at a request topic would make the answer a new request forever.
    await o.client.publishAsync(`${P}/cam-2/request/ping`, '{"transaction":"x2"}', {
      qos: 1,
      properties: { responseTopic: `${P}/cam-2/request/ping` },
    });
    await waitUntil(() => o.json(`${P}/cam-2/response/ping`).some((r) => r.transaction === 'x2'), 5000);
    await delay(300);
    expect(o.on(`${P}/cam-2/request/ping`)).toHaveLength(2); // the two we sent, nothing echoed
  });

  it('group commands reach every member, each answering on its own response topic', async () => {
    const b = await broker();
    const a = await device('cam-a', { url: b.url, groups: ['lab'] });
    const c = await device('cam-c', { url: b.url, groups: ['lab', 'door'] });
    const outsider = await device('cam-x', { url: b.url, groups: ['door'] });
    const o = await observer(b.url, [`${P}/+/response/set-fps`]);
    await o.client.publishAsync(`${P}/group/lab/request/set-fps`, '{"fps": 7, "transaction": "g1"}', {
      qos: 1,
    });
    await waitUntil(() => o.messages.length >= 2, 5000);
    await delay(300);
    expect(o.messages.map((m) => m.topic).sort()).toEqual([
      `${P}/cam-a/response/set-fps`,
      `${P}/cam-c/response/set-fps`,
    ]);
    expect(a.changes).toEqual(['fps 7']);
    expect(c.changes).toEqual(['fps 7']);
    expect(outsider.changes).toEqual([]);
    expect(a.store.audit.list()[0]).toMatchObject({
      command: 'set-fps',
      scope: 'group:lab',
      transaction: 'g1',
      status: 'ok',
    });
  });

  // Home Assistant discovery is a feature of the agent now (src/features/home-assistant.ts), tested
  // against a real agent and broker in test/integration/home-assistant/.
  it('publishes results on change', async () => {
    const b = await broker();
    const d = await device('cam-ha', {
      url: b.url,
      results: { mode: 'on-change', maxPerS: 100, qos: 1 },
    });
    const o = await observer(b.url, [`${P}/cam-ha/results`]);
    const result = (score: number, seq: number) => ({
      ts: Date.now(),
      seq,
      model: 'm',
      variant: 'fp32',
      task: 'detection' as const,
      imageWidth: 10,
      imageHeight: 10,
      timings: { preprocessMs: 1, inferenceMs: 1, postprocessMs: 1 },
      detections: [
        { label: 'person', classId: 0, score, box: [1, 1, 5, 5] as [number, number, number, number] },
      ],
    });
    const sent: boolean[] = [];
    for (const [i, score] of [0.9, 0.9, 0.9, 0.5, 0.5].entries()) {
      sent.push(d.fleet.publishResult(result(score, i)));
      await delay(20); // above the 10 ms rate limit: only on-change skips
    }
    expect(sent).toEqual([true, false, false, true, false]);
    await waitUntil(() => o.on(`${P}/cam-ha/results`).length === 2, 5000);
    expect(o.json(`${P}/cam-ha/results`).map((r) => r.seq)).toEqual([0, 3]);
  });

  it('last will: a SIGKILLed agent turns offline; a persistent session delivers commands sent while it was down', async () => {
    const b = await broker();
    const db = path.join(mkdtempSync(path.join(tmpdir(), 'ea-lwt-')), 'a.db');
    const opts = { db, deviceId: 'cam-lwt', intervalS: 60, produce: false, mqtt: { url: b.url } };
    const first = await HarnessProcess.start(opts);
    cleanups.push(() => first.kill('SIGKILL'));
    const o = await observer(b.url, [`${P}/cam-lwt/availability`, `${P}/cam-lwt/response/+`]);
    await waitUntil(() => o.on(`${P}/cam-lwt/availability`).at(-1)?.payload.toString() === 'online', 10_000);
    first.kill('SIGKILL');
    await first.exited;
    await waitUntil(() => o.on(`${P}/cam-lwt/availability`).at(-1)?.payload.toString() === 'offline', 5000);

    // Sent while the device is down: the broker keeps it in the device's session.
    await o.client.publishAsync(`${P}/cam-lwt/request/set-fps`, '{"fps": 3, "transaction": "while-down"}', {
      qos: 1,
    });
    const second = await HarnessProcess.start(opts);
    cleanups.push(async () => {
      second.kill('SIGKILL');
      await second.exited;
    });
    await waitUntil(
      () => o.json(`${P}/cam-lwt/response/set-fps`).find((r) => r.transaction === 'while-down'),
      10_000,
    );
    await second.waitFor((l) => l.changed === 'fps' && l.fps === 3);
  });

  it('speaks MQTT 3.1.1 when configured', async () => {
    const b = await broker();
    const d = await device('cam-311', { url: b.url, protocol: '3.1.1' });
    expect(d.fleet.status().link.protocolVersion).toBe(4);
    const o = await observer(b.url);
    expect((await request(o, P, 'cam-311', 'ping')).status).toBe('ok');
  });
});

describe.runIf(run)('MQTT over TLS and mutual TLS', () => {
  const tlsBroker = (requireCertificate: boolean) =>
    broker({
      tls: { ca: `${TLS}/ca.crt`, cert: `${TLS}/server.crt`, key: `${TLS}/server.key`, requireCertificate },
    });

  it('connects with the CA (server authentication) and answers commands', async () => {
    const b = await tlsBroker(false);
    const url = `mqtts://127.0.0.1:${b.port}`;
    await device('cam-tls', { url, tls: { ca: `${TLS}/ca.crt`, servername: 'localhost' } });
    const o = await observer(url, [], { ca: readFileSync(`${TLS}/ca.crt`), servername: 'localhost' });
    expect((await request(o, P, 'cam-tls', 'ping')).status).toBe('ok');
  });

  it('mutual TLS: connects with a client certificate, is refused without one', async () => {
    const b = await tlsBroker(true);
    const url = `mqtts://127.0.0.1:${b.port}`;
    await device('cam-mtls', {
      url,
      tls: {
        ca: `${TLS}/ca.crt`,
        cert: `${TLS}/client.crt`,
        key: `${TLS}/client.key`,
        servername: 'localhost',
      },
    });
    const refused = await startDevice('cam-nocert', {
      url,
      tls: { ca: `${TLS}/ca.crt`, servername: 'localhost' },
    });
    cleanups.push(() => refused.stop());
    await waitUntil(() => refused.fleet.status().link.failures >= 1 || undefined, 10_000);
    expect(refused.fleet.status().link.state).not.toBe('online');
    expect(refused.fleet.status().link.lastError).toBeTruthy();
  });

  it('names the missing TLS file', async () => {
    await expect(
      startDevice('cam-bad', { url: 'mqtts://127.0.0.1:1', tls: { ca: '/nonexistent/ca.crt' } }),
    ).rejects.toThrow(ConfigError);
    await expect(
      startDevice('cam-bad', { url: 'mqtts://127.0.0.1:1', tls: { cert: `${TLS}/client.crt` } }),
    ).rejects.toThrow(/needs both cert and key/);
  });
});
