import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { Gate, HarnessProcess, Observer, request, waitUntil } from './support.js';

const run = requireMosquitto();
const PREFIX = 'edge-agent';
const FAST_RECONNECT = { minDelayS: 0.5, maxDelayS: 2, stableAfterS: 5 };

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function tmpDb(): string {
  return path.join(mkdtempSync(path.join(tmpdir(), 'ea-rel-')), 'agent.db');
}

/** Telemetry sample times written by the device (every record is also kept in metrics_raw). */
function writtenTelemetry(db: string): number[] {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT ts FROM metrics_raw ORDER BY id').all() as Array<{ ts: number }>).map(
      (r) => r.ts,
    );
  } finally {
    d.close();
  }
}

function pendingRows(db: string): Array<{ id: number; payload: string }> {
  const d = new Database(db, { readonly: true });
  try {
    return (
      d.prepare("SELECT id, payload FROM outbox WHERE kind = 'telemetry' ORDER BY id").all() as Array<{
        id: number;
        payload: Buffer;
      }>
    ).map((r) => ({ id: r.id, payload: r.payload.toString() }));
  } finally {
    d.close();
  }
}

/** First occurrences in arrival order, and how many arrivals were duplicates. */
function dedupe(values: number[]): { unique: number[]; duplicates: number } {
  const seen = new Set<number>();
  const unique: number[] = [];
  for (const v of values) {
    if (!seen.has(v)) unique.push(v);
    seen.add(v);
  }
  return { unique, duplicates: values.length - unique.length };
}

async function spawnDevice(db: string, url: string, deviceId: string, extra: Record<string, unknown> = {}) {
  const h = await HarnessProcess.start({
    db,
    deviceId,
    intervalS: 0.1,
    produce: true,
    mqtt: { url, prefix: PREFIX, reconnect: FAST_RECONNECT, ...extra },
  });
  cleanups.push(async () => {
    h.kill('SIGKILL');
    await h.exited;
  });
  return h;
}

describe.runIf(run)('MQTT reliability against a real Mosquitto', () => {
  it('broker SIGKILLed for 4 s while telemetry runs at 10/s: nothing missing, order kept', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const gate = await Gate.start(broker.port);
    cleanups.push(() => gate.stop());
    const observer = await Observer.connect(broker.url, {}, [`${PREFIX}/dev-a/telemetry`]);
    cleanups.push(() => observer.close());
    const db = tmpDb();
    const device = await spawnDevice(db, gate.url, 'dev-a');
    await waitUntil(() => observer.on(`${PREFIX}/dev-a/telemetry`).length >= 10, 10_000);

    await broker.kill();
    gate.shut(); // the agent stays cut off until the observer is back (see Gate)
    await delay(4000);
    await broker.launch();
    await waitUntil(() => observer.client.connected, 10_000);
    await observer.client.subscribeAsync(`${PREFIX}/dev-a/telemetry`, { qos: 1 });
    gate.open = true;

    await delay(1500);
    device.kill('SIGUSR2'); // stop producing; the link drains what is left
    await device.waitFor((l) => l.produced === 'stopped');
    await waitUntil(
      () => pendingRows(db).length === 0,
      15_000,
      () => 'outbox not drained',
    );
    const written = writtenTelemetry(db);
    await waitUntil(
      () =>
        dedupe(observer.json(`${PREFIX}/dev-a/telemetry`).map((r) => r.ts as number)).unique.length >=
        written.length,
      10_000,
      () => 'observer did not receive everything',
    );
    const received = observer.json(`${PREFIX}/dev-a/telemetry`).map((r) => r.ts as number);
    const { unique, duplicates } = dedupe(received);
    expect(written.length).toBeGreaterThan(50); // ~10/s for > 6 s, ~40 of them during the outage
    expect(unique).toEqual(written); // zero missing, same order
    expect(duplicates).toBeLessThanOrEqual(32); // only the QoS 1 in-flight window may repeat
  });

  it('agent SIGKILLed while the broker is unreachable, then restarted: every row written before the kill is delivered', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const gate = await Gate.start(broker.port);
    cleanups.push(() => gate.stop());
    gate.shut();
    const observer = await Observer.connect(broker.url, {}, [`${PREFIX}/dev-b/telemetry`]);
    cleanups.push(() => observer.close());
    const db = tmpDb();
    const first = await spawnDevice(db, gate.url, 'dev-b');
    await delay(1500);
    first.kill('SIGKILL');
    await first.exited;
    const beforeKill = pendingRows(db);
    expect(beforeKill.length).toBeGreaterThanOrEqual(10);
    expect(writtenTelemetry(db).length).toBe(beforeKill.length); // nothing was sent: all still queued

    gate.open = true;
    const second = await spawnDevice(db, gate.url, 'dev-b');
    second.kill('SIGUSR2');
    await waitUntil(
      () => pendingRows(db).length === 0,
      15_000,
      () => 'outbox not drained',
    );
    const expected = beforeKill.map((r) => (JSON.parse(r.payload) as { ts: number }).ts);
    await waitUntil(
      () => {
        const got = new Set(observer.json(`${PREFIX}/dev-b/telemetry`).map((r) => r.ts as number));
        return expected.every((ts) => got.has(ts));
      },
      10_000,
      () => 'rows from before the kill missing',
    );
    const { unique } = dedupe(observer.json(`${PREFIX}/dev-b/telemetry`).map((r) => r.ts as number));
    expect(unique.slice(0, expected.length)).toEqual(expected); // delivered first, in order
  });

  it('broker restarted without persistence: the agent resubscribes and answers a command within 5 s', async () => {
    const broker = await Mosquitto.start({ persistence: false });
    cleanups.push(() => broker.stop());
    const device = await spawnDevice(tmpDb(), broker.url, 'dev-c', {});
    const observer = await Observer.connect(broker.url, {}, [`${PREFIX}/dev-c/availability`]);
    cleanups.push(() => observer.close());
    await waitUntil(
      () => observer.on(`${PREFIX}/dev-c/availability`).some((m) => m.payload.toString() === 'online'),
      10_000,
    );
    observer.messages.length = 0;
    expect((await request(observer, PREFIX, 'dev-c', 'ping')).status).toBe('ok');

    await broker.kill();
    await delay(1000);
    const restartedAt = Date.now();
    await broker.launch();
    await waitUntil(() => observer.client.connected, 10_000);
    await observer.client.subscribeAsync(`${PREFIX}/dev-c/availability`, { qos: 1 });
    // The broker lost everything; the agent's fresh retained "online" says it is back.
    await waitUntil(
      () => observer.on(`${PREFIX}/dev-c/availability`).some((m) => m.payload.toString() === 'online'),
      10_000,
    );
    const backAfterMs = Date.now() - restartedAt;
    const sentAt = Date.now();
    const response = await request(observer, PREFIX, 'dev-c', 'get-status', {}, 5000);
    expect(response.status).toBe('ok');
    expect(Date.now() - sentAt).toBeLessThan(5000);
    expect(backAfterMs).toBeLessThan(5000);
    expect(device.child.exitCode).toBeNull();
  });

  it('two agents with the same client id: conflict detected and reported, no tight reconnect loop', async () => {
    const broker = await Mosquitto.start();
    cleanups.push(() => broker.stop());
    const reconnect = { minDelayS: 0.5, maxDelayS: 4, stableAfterS: 5 };
    const dbA = tmpDb();
    const dbB = tmpDb();
    await spawnDevice(dbA, broker.url, 'twin', { reconnect });
    await spawnDevice(dbB, broker.url, 'twin', { reconnect });
    const started = Date.now();
    await delay(9000);
    const elapsedS = (Date.now() - started) / 1000;
    const connects = (broker.log.match(/New client connected from .* as twin/g) ?? []).length;
    // A tight loop would be hundreds of connections; backoff keeps it to a handful.
    expect(connects).toBeGreaterThanOrEqual(3);
    expect(connects / elapsedS).toBeLessThan(2);
    const conflicts = [dbA, dbB].map((file) => {
      const d = new Database(file, { readonly: true });
      const rows = d
        .prepare("SELECT severity, data FROM events WHERE type = 'mqtt-client-id-conflict'")
        .all() as Array<{
        severity: string;
        data: string;
      }>;
      d.close();
      return rows;
    });
    expect(conflicts.flat().length).toBeGreaterThan(0);
    expect(conflicts.flat().every((c) => c.severity === 'error')).toBe(true);
    // Mosquitto 2.0 just closes the old connection (no MQTT 5 DISCONNECT 142, which would make it
    // "confirmed"), so the verdict comes from repeated short sessions.
    const verdicts = conflicts.flat().map((c) => (JSON.parse(c.data) as { verdict: string }).verdict);
    expect(verdicts.every((v) => v === 'suspected' || v === 'confirmed')).toBe(true);
  });
});
