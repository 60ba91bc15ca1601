import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { fillDisk, mountTmpfs } from '../../helpers/tmpfs.js';
import { waitUntil } from '../../helpers/wait.js';

/**
 * A real agent whose data directory is a 2 MB tmpfs, filled up while it runs. Before the fix:
 * every interval logged an error, nothing reached MQTT, outboxDroppedTotal stayed 0 and SIGTERM
 * exited 1 without closing the database.
 */
const root = mkdtempSync(path.join(tmpdir(), 'ea-diskfull-'));
const mounted = mountTmpfs(path.join(root, 'data'), '2m');

interface Message {
  topic: string;
  body: Record<string, unknown>;
  at: number;
}

describe.skipIf(!mounted)('a full data directory (2 MB tmpfs filled during the run)', () => {
  let agent: AgentProcess | undefined;
  let client: MqttClient | undefined;

  afterAll(async () => {
    await client?.endAsync(true);
    agent?.kill();
    await agent?.exited;
    if (agent) rmSync(agent.dir, { recursive: true, force: true });
    mounted?.unmount();
    rmSync(root, { recursive: true, force: true });
  });

  it('keeps telemetry flowing live, reports disk-full and what was lost, and exits 0 on SIGTERM', async () => {
    agent = AgentProcess.start({
      dataDir: mounted!.dir,
      deviceId: 'diskfull',
      models: { dir: MODELS, default: 'squeezenet1.1' },
      camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 },
      mqtt: { embedded: { port: 0 } },
      telemetry: { intervalS: 1 },
    });
    const url = await agent.url();
    const brokerLine = await agent.waitFor((l) => String(l.msg).startsWith('embedded MQTT broker listening'));
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${brokerLine.port}`, { reconnectPeriod: 0 });
    // An agent that dies takes its broker with it: the waits below say so, not an unhandled error.
    client.on('error', () => undefined);
    const messages: Message[] = [];
    client.on('message', (topic, payload) =>
      messages.push({
        topic,
        body: JSON.parse(payload.toString()) as Record<string, unknown>,
        at: Date.now(),
      }),
    );
    await client.subscribeAsync(['edge-agent/diskfull/telemetry', 'edge-agent/diskfull/events'], { qos: 1 });
    const telemetry = () => messages.filter((m) => m.topic.endsWith('/telemetry'));
    await waitUntil(
      () => telemetry().length >= 1,
      30_000,
      () => `no telemetry before the fill (got ${messages.map((m) => m.topic).join(' ')})\n${agent!.log()}`,
    );

    const filled = fillDisk(mounted!.dir);
    expect(filled).toBeGreaterThan(0);

    const event = await waitUntil(
      () => messages.find((m) => m.topic.endsWith('/events') && m.body.type === 'disk-full'),
      30_000,
      () => `no disk-full event on MQTT\n${agent!.log()}`,
    );
    expect(event.body).toMatchObject({ severity: 'error', dataDir: mounted!.dir });

    // Telemetry keeps arriving (published live, not through the outbox) and says what is wrong.
    const live = await waitUntil(
      () => {
        const after = telemetry().filter((m) => m.at > event.at && m.body.diskFull === true);
        return after.length >= 2 ? after : undefined;
      },
      30_000,
      () => `telemetry stopped on the full disk\n${agent!.log()}`,
    );
    const last = live[live.length - 1]!.body;
    expect(last).toMatchObject({ healthStatus: 'degraded', diskFull: true });
    expect(String(last.faults)).toContain('disk-full');
    expect(last.diskWritesFailedTotal as number).toBeGreaterThan(0);
    expect(last.outboxBypassedTotal as number).toBeGreaterThanOrEqual(2);

    const health = (await (await fetch(`${url}/healthz`)).json()) as {
      status: string;
      faults: Array<{ id: string; message: string }>;
    };
    expect(health.status).toBe('degraded');
    expect(health.faults.map((f) => f.id)).toContain('disk-full');
    expect(health.faults.find((f) => f.id === 'disk-full')!.message).toContain(mounted!.dir);
    // One error line for the transition, not one per interval.
    expect(agent.lines.filter((l) => l.level === 50 && String(l.msg).startsWith('disk full')).length).toBe(1);
    expect(
      agent.lines.filter((l) => l.level === 50 && String(l.msg).includes('telemetry sample failed')),
    ).toEqual([]);

    // Room again: the fault clears, disk-ok is announced, queueing resumes.
    unlinkSync(path.join(mounted!.dir, 'filler'));
    const ok = await waitUntil(
      () => messages.find((m) => m.topic.endsWith('/events') && m.body.type === 'disk-ok'),
      30_000,
      () => `no disk-ok event after the space came back\n${agent!.log()}`,
    );
    await waitUntil(
      () =>
        telemetry().find((m) => m.at > ok.at && m.body.diskFull === false && m.body.healthStatus === 'ok'),
      30_000,
      () => `telemetry still says the disk is full\n${agent!.log()}`,
    );

    // Full again, and SIGTERM while it is: exit 0, database closed.
    fillDisk(mounted!.dir);
    await waitUntil(
      () => messages.filter((m) => m.topic.endsWith('/events') && m.body.type === 'disk-full').length >= 2,
      30_000,
      () => `no second disk-full event\n${agent!.log()}`,
    );
    await client.endAsync();
    client = undefined;
    const exit = await agent.terminate();
    expect(exit, agent.log()).toMatchObject({ code: 0, signal: null });
    expect(agent.lines.some((l) => l.msg === 'agent stopped')).toBe(true);

    // The database was closed cleanly and is intact once there is room again.
    unlinkSync(path.join(mounted!.dir, 'filler'));
    const db = new Database(path.join(mounted!.dir, 'edge-agent.db'));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect((db.prepare('SELECT count(*) AS n FROM agent_runs').get() as { n: number }).n).toBe(1);
    db.close();
  }, 180_000);
});
