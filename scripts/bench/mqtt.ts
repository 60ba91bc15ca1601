// MQTT reliability figures against a real Mosquitto started here (never the system service):
// a 30 s broker outage under 10 telemetry messages/s, a 10,000-row backlog drain, an agent SIGKILL
// while the broker is unreachable, a broker restart without persistence, and two agents sharing
// one client id. Run alone with `npm run bench:mqtt` (writes bench/mqtt.json and bench/mqtt.md);
// `npm run bench` calls benchMqtt().
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { systemClock } from '../../src/clock.js';
import { silentLogger } from '../../src/log.js';
import { TelemetryCollector } from '../../src/telemetry/collector.js';
import { TelemetryReporter } from '../../src/telemetry/reporter.js';
import { systemCpuReader } from '../../src/telemetry/sources.js';
import { Mosquitto, mosquittoBinary } from '../../test/helpers/mosquitto.js';
import {
  Gate,
  HarnessProcess,
  Observer,
  request,
  startDevice,
  waitUntil,
} from '../../test/integration/mqtt/support.js';
import { writeStandalone } from './stats.js';

export interface BenchMqttOptions {
  /** Broker outage length, s (the figure: 30). */
  outageS?: number;
  /** Telemetry messages per second during the outage run. */
  ratePerS?: number;
  /** Rows queued before the drain measurement. */
  backlogRows?: number;
  /** Observation window of the client-id conflict run, s. */
  conflictS?: number;
  log?: (line: string) => void;
}

const P = 'edge-agent';

function dedupe(values: number[]): { unique: number[]; duplicates: number } {
  const seen = new Set<number>();
  const unique: number[] = [];
  for (const v of values) {
    if (!seen.has(v)) unique.push(v);
    seen.add(v);
  }
  return { unique, duplicates: values.length - unique.length };
}

async function outage(outageS: number, ratePerS: number) {
  const broker = await Mosquitto.start();
  const gate = await Gate.start(broker.port);
  const observer = await Observer.connect(broker.url, {}, [`${P}/bench-outage/telemetry`]);
  const device = await startDevice('bench-outage', {
    url: gate.url,
    reconnect: { minDelayS: 1, maxDelayS: 60 },
  });
  const reporter = new TelemetryReporter({
    collector: new TelemetryCollector({
      deviceId: 'bench-outage',
      clock: systemClock,
      cpu: systemCpuReader(),
      sources: { active: () => undefined },
    }),
    metrics: device.store.metrics,
    outbox: device.store.outbox,
    topic: device.fleet.topics.telemetry,
    clock: systemClock,
    log: silentLogger(),
    intervalS: 1 / ratePerS,
  });
  try {
    reporter.start();
    await delay(3000);
    await broker.kill();
    gate.shut();
    const killedAt = Date.now();
    await delay(outageS * 1000);
    const queuedAtReturn = device.store.outbox.pending();
    await broker.launch();
    await waitUntil(() => observer.client.connected, 20_000);
    await observer.client.subscribeAsync(`${P}/bench-outage/telemetry`, { qos: 1 });
    gate.open = true;
    const returnedAt = Date.now();
    await waitUntil(() => device.store.outbox.pending() <= 2, 120_000);
    const caughtUpMs = Date.now() - returnedAt;
    await delay(2000);
    await reporter.stop();
    await device.fleet.drained();
    const written = (
      device.store.db.prepare('SELECT ts FROM metrics_raw ORDER BY id').all() as Array<{ ts: number }>
    ).map((r) => r.ts);
    await waitUntil(
      () =>
        dedupe(observer.json(`${P}/bench-outage/telemetry`).map((r) => r.ts as number)).unique.length >=
        written.length,
      30_000,
    ).catch(() => undefined);
    const { unique, duplicates } = dedupe(
      observer.json(`${P}/bench-outage/telemetry`).map((r) => r.ts as number),
    );
    const receivedSet = new Set(unique);
    return {
      outageS: Math.round((returnedAt - killedAt) / 100) / 10,
      ratePerS,
      written: written.length,
      queuedDuringOutage: queuedAtReturn,
      missing: written.filter((ts) => !receivedSet.has(ts)).length,
      orderKept: JSON.stringify(unique) === JSON.stringify(written),
      duplicates,
      caughtUpAfterReturnMs: caughtUpMs,
    };
  } finally {
    await reporter.stop();
    await device.stop();
    await observer.close();
    await gate.stop();
    await broker.stop();
  }
}

async function backlog(rows: number) {
  const broker = await Mosquitto.start();
  const gate = await Gate.start(broker.port);
  gate.shut();
  const observer = await Observer.connect(broker.url, {}, [`${P}/bench-drain/telemetry`]);
  const device = await startDevice('bench-drain', {
    url: gate.url,
    reconnect: { minDelayS: 0.2, maxDelayS: 0.5 },
  });
  try {
    const payload = (i: number) =>
      JSON.stringify({ ts: i, deviceId: 'bench-drain', fps: 2.5, latencyInferenceP95Ms: 12.3 });
    const enqueueStart = performance.now();
    for (let i = 0; i < rows; i += 1000) {
      device.store.outbox.enqueueMany(
        Array.from({ length: Math.min(1000, rows - i) }, (_, k) => ({
          kind: 'telemetry',
          topic: device.fleet.topics.telemetry,
          payload: payload(i + k),
        })),
      );
    }
    const enqueueMs = performance.now() - enqueueStart;
    gate.open = true;
    await waitUntil(() => device.fleet.status().link.state === 'online', 20_000);
    const connectedAt = performance.now();
    await device.fleet.drained();
    const drainMs = performance.now() - connectedAt;
    await waitUntil(() => observer.on(`${P}/bench-drain/telemetry`).length >= rows, 60_000).catch(
      () => undefined,
    );
    const received = dedupe(observer.json(`${P}/bench-drain/telemetry`).map((r) => r.ts as number)).unique
      .length;
    return {
      rows,
      enqueueMs: Math.round(enqueueMs),
      drainAfterReconnectMs: Math.round(drainMs),
      rowsPerS: Math.round(rows / (drainMs / 1000)),
      received,
      inflightWindow: 32,
    };
  } finally {
    await device.stop();
    await observer.close();
    await gate.stop();
    await broker.stop();
  }
}

async function agentKill() {
  const broker = await Mosquitto.start();
  const gate = await Gate.start(broker.port);
  gate.shut();
  const observer = await Observer.connect(broker.url, {}, [`${P}/bench-kill/telemetry`]);
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'ea-bench-')), 'agent.db');
  const options = { db, deviceId: 'bench-kill', intervalS: 0.1, produce: true, mqtt: { url: gate.url } };
  try {
    const first = await HarnessProcess.start(options);
    await delay(3000);
    first.kill('SIGKILL');
    await first.exited;
    const d = new Database(db, { readonly: true });
    const before = (
      d.prepare("SELECT payload FROM outbox WHERE kind = 'telemetry' ORDER BY id").all() as Array<{
        payload: Buffer;
      }>
    ).map((r) => (JSON.parse(r.payload.toString()) as { ts: number }).ts);
    d.close();
    gate.open = true;
    const restartAt = Date.now();
    const second = await HarnessProcess.start({ ...options, produce: false });
    await waitUntil(() => {
      const got = new Set(observer.json(`${P}/bench-kill/telemetry`).map((r) => r.ts as number));
      return before.every((ts) => got.has(ts));
    }, 30_000).catch(() => undefined);
    const got = new Set(observer.json(`${P}/bench-kill/telemetry`).map((r) => r.ts as number));
    const deliveredMs = Date.now() - restartAt;
    second.kill('SIGTERM');
    await second.exited;
    return {
      writtenBeforeKill: before.length,
      delivered: before.filter((ts) => got.has(ts)).length,
      restartToDeliveredMs: deliveredMs,
    };
  } finally {
    await observer.close();
    await gate.stop();
    await broker.stop();
  }
}

async function brokerRestart() {
  const broker = await Mosquitto.start({ persistence: false });
  const device = await startDevice('bench-restart', { url: broker.url });
  const observer = await Observer.connect(broker.url, { reconnectPeriod: 50 }, [
    `${P}/bench-restart/availability`,
  ]);
  try {
    await waitUntil(() => device.fleet.status().link.state === 'online', 10_000);
    await broker.kill();
    observer.messages.length = 0; // forget the retained "online" from before
    await delay(2000);
    await broker.launch();
    const back = Date.now();
    await waitUntil(() => observer.client.connected, 10_000);
    await observer.client.subscribeAsync(`${P}/bench-restart/availability`, { qos: 1 });
    await waitUntil(
      () => observer.on(`${P}/bench-restart/availability`).some((m) => m.payload.toString() === 'online'),
      20_000,
    );
    const resubscribedMs = Date.now() - back;
    const t0 = performance.now();
    const answer = await request(observer, P, 'bench-restart', 'ping', {}, 5000);
    return {
      brokerBackToAgentOnlineMs: resubscribedMs,
      commandAnswerMs: Math.round(performance.now() - t0),
      status: answer.status,
    };
  } finally {
    await device.stop();
    await observer.close();
    await broker.stop();
  }
}

async function conflict(windowS: number) {
  const broker = await Mosquitto.start();
  const a = await startDevice('bench-twin', { url: broker.url });
  const b = await startDevice('bench-twin', { url: broker.url });
  try {
    await delay(windowS * 1000);
    const connects = (broker.log.match(/New client connected from .* as bench-twin/g) ?? []).length;
    return {
      windowS,
      connects,
      connectsPerMinute: Math.round((connects / windowS) * 60 * 10) / 10,
      conflictReported: [a, b].map((d) => d.fleet.status().link.clientIdConflict ?? 'none'),
    };
  } finally {
    await a.stop();
    await b.stop();
    await broker.stop();
  }
}

export async function benchMqtt(opts: BenchMqttOptions = {}): Promise<{ json: unknown; markdown: string }> {
  if (!mosquittoBinary()) throw new Error('bench:mqtt needs mosquitto: sudo apt-get install -y mosquitto');
  const say = opts.log ?? ((line: string) => console.error(line));
  const outageS = opts.outageS ?? 30;
  const ratePerS = opts.ratePerS ?? 10;
  say(`mqtt: broker outage ${outageS} s at ${ratePerS} msg/s ...`);
  const o = await outage(outageS, ratePerS);
  say(`mqtt: backlog drain of ${opts.backlogRows ?? 10_000} rows ...`);
  const d = await backlog(opts.backlogRows ?? 10_000);
  say('mqtt: agent SIGKILL while the broker is unreachable ...');
  const k = await agentKill();
  say('mqtt: broker restart without persistence ...');
  const r = await brokerRestart();
  say('mqtt: two agents with one client id ...');
  const c = await conflict(opts.conflictS ?? 60);
  const json = {
    mosquitto: true,
    brokerOutage: o,
    backlogDrain: d,
    agentKill: k,
    brokerRestart: r,
    clientIdConflict: c,
  };
  const markdown = [
    '## MQTT reliability (real Mosquitto on this machine)',
    '',
    '| scenario | figure |',
    '|---|---|',
    `| broker SIGKILLed ${o.outageS} s, telemetry at ${o.ratePerS}/s | ${o.written} written, ${o.queuedDuringOutage} queued during the outage, **${o.missing} missing**, order kept: ${o.orderKept ? 'yes' : 'NO'}, ${o.duplicates} duplicates, caught up ${o.caughtUpAfterReturnMs} ms after the broker returned |`,
    `| backlog drain | ${d.rows} rows published and acknowledged in **${d.drainAfterReconnectMs} ms** after reconnect (${d.rowsPerS} rows/s, window ${d.inflightWindow}); ${d.received} received |`,
    `| agent SIGKILLed while the broker was unreachable | ${k.delivered}/${k.writtenBeforeKill} rows written before the kill delivered after restart (${k.restartToDeliveredMs} ms from restart) |`,
    `| broker restarted without persistence | agent online again ${r.brokerBackToAgentOnlineMs} ms after the broker; a command answered in ${r.commandAnswerMs} ms (${r.status}) |`,
    `| two agents, one client id, ${c.windowS} s | ${c.connects} connections (${c.connectsPerMinute}/min), conflict reported: ${c.conflictReported.join(', ')} |`,
    '',
  ].join('\n');
  return { json, markdown };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const quick = process.argv.includes('--quick');
  const result = await benchMqtt(quick ? { outageS: 5, backlogRows: 2000, conflictS: 10 } : {});
  writeStandalone('mqtt', result);
  process.exit(0);
}
