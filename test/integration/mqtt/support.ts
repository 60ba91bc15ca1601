import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { configFeature } from '../../../src/features/config.js';
import { deviceFeature } from '../../../src/features/device.js';
import { commandTable } from '../../../src/features/feature.js';
import { modelsFeature } from '../../../src/features/models.js';
import { pacingFeature } from '../../../src/features/pacing.js';
import type { CommandTable } from '../../../src/fleet/router.js';
import { FleetService } from '../../../src/fleet/service.js';
import { deviceTopics } from '../../../src/fleet/topics.js';
import { silentLogger } from '../../../src/log.js';
import { Store } from '../../../src/store/index.js';
import { TSX_LOADER } from '../../helpers/cli.js';
import { waitUntil } from '../../helpers/wait.js';

export { waitUntil };

import type { HarnessOptions } from './harness/device.js';

const HARNESS = path.join(path.dirname(new URL(import.meta.url).pathname), 'harness/device.ts');

/** A device harness child process with its JSON-lines stdout parsed. */
export class HarnessProcess {
  readonly lines: Array<Record<string, unknown>> = [];
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout?.on('data', (d) => {
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) if (line.trim()) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    });
    child.stderr?.on('data', (d) => {
      this.stderr += d;
    });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(options: HarnessOptions, env: Record<string, string> = {}): Promise<HarnessProcess> {
    const child = spawn(process.execPath, ['--import', TSX_LOADER, HARNESS], {
      env: { ...process.env, HARNESS: JSON.stringify(options), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const h = new HarnessProcess(child);
    await h.waitFor((l) => l.ready === true, 20_000);
    return h;
  }

  async waitFor(
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs = 10_000,
  ): Promise<Record<string, unknown>> {
    return waitUntil(
      () => this.lines.find(match),
      timeoutMs,
      () => `harness line not seen\n${this.stderr}`,
    );
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

/** An operator-side MQTT client collecting every message it receives. */
export class Observer {
  readonly messages: Array<{
    topic: string;
    payload: Buffer;
    retain: boolean;
    properties?: Record<string, unknown>;
  }> = [];

  private constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({
        topic,
        payload,
        retain: packet.retain,
        ...(packet.properties ? { properties: packet.properties as Record<string, unknown> } : {}),
      });
    });
  }

  static async connect(
    url: string,
    options: IClientOptions = {},
    subscribe: string[] = [],
  ): Promise<Observer> {
    const client = mqtt.connect(url, { reconnectPeriod: 100, protocolVersion: 5, ...options });
    const o = new Observer(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    if (subscribe.length) await client.subscribeAsync(subscribe, { qos: 1 });
    return o;
  }

  on(topic: string): Array<{ topic: string; payload: Buffer; retain: boolean }> {
    return this.messages.filter((m) => m.topic === topic);
  }

  json(topic: string): Array<Record<string, unknown>> {
    return this.on(topic).map((m) => JSON.parse(m.payload.toString()) as Record<string, unknown>);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/**
 * A TCP gate between the agent and the broker: closed, it refuses connections (the broker is
 * "unreachable" for the agent only); open, it forwards bytes both ways. Used to let test observers
 * reconnect first after a broker restart, and to cut the agent off while the broker stays up.
 */
export class Gate {
  private readonly pairs = new Set<[Socket, Socket]>();
  open = true;

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly upstreamPort: number,
  ) {
    server.on('connection', (client) => {
      if (!this.open) {
        client.destroy();
        return;
      }
      const upstream = createConnection(this.upstreamPort, '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  static async start(upstreamPort: number): Promise<Gate> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const address = server.address();
    return new Gate(server, typeof address === 'object' && address ? address.port : 0, upstreamPort);
  }

  /** Closes the gate and cuts the connections passing through it. */
  shut(): void {
    this.open = false;
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.shut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Sends a request and waits for the response on the device's response topic. */
export async function request(
  observer: Observer,
  prefix: string,
  deviceId: string,
  command: string,
  params: Record<string, unknown> = {},
  timeoutMs = 5000,
): Promise<Record<string, unknown>> {
  const transaction = `t-${Math.random().toString(36).slice(2)}`;
  const responseTopic = `${prefix}/${deviceId}/response/${command}`;
  await observer.client.subscribeAsync(responseTopic, { qos: 1 });
  await observer.client.publishAsync(
    `${prefix}/${deviceId}/request/${command}`,
    JSON.stringify({ transaction, ...params }),
    { qos: 1 },
  );
  return waitUntil(
    () => observer.json(responseTopic).find((r) => r.transaction === transaction),
    timeoutMs,
    () => `no response to ${command}`,
  );
}

// --- an in-process device (real store + fleet service) for protocol tests ---

export interface InProcessDevice {
  fleet: FleetService;
  store: Store;
  changes: string[];
  stop(): Promise<void>;
}

/** `table`: these commands instead of the default few (ping, config, set-model, set-fps). */
export async function startDevice(
  deviceId: string,
  mqttConfig: Record<string, unknown>,
  table?: CommandTable,
): Promise<InProcessDevice> {
  const config = parseConfig({ deviceId, mqtt: mqttConfig });
  const store = new Store({
    file: ':memory:',
    config: config.store,
    clock: systemClock,
    log: silentLogger(),
    eventsTopic: deviceTopics(config.mqtt.prefix, deviceId).events,
  });
  const changes: string[] = [];
  const active = { model: 'm', variant: 'fp32' };
  const commands =
    table ??
    commandTable([
      deviceFeature({ status: () => ({ deviceId }), restart: () => changes.push('restart') }),
      configFeature({
        store: { effective: () => config, set: async () => Promise.reject(new Error('not wired')) },
      }),
      modelsFeature({
        models: {
          catalog: { models: () => [] } as never,
          active: () => active,
          switchTo: async (t) => {
            changes.push(`variant ${t.variant}`);
            return { changed: true, from: active, to: { model: 'm', variant: t.variant ?? 'fp32' } };
          },
        },
        decision: () => ({}),
      }),
      pacingFeature({
        config: config.pipeline,
        pipeline: {
          setPacing: (p) => void changes.push(`fps ${p.mode === 'continuous' ? p.fps : p.mode}`),
          stats: () => ({ pacing: {} }),
        },
      }),
    ]);
  const fleet = new FleetService({
    config: config.mqtt,
    deviceId,
    version: 'test',
    clock: systemClock,
    log: silentLogger(),
    outbox: store.outbox,
    audit: store.audit,
    events: store.events,
    commands,
    info: () => ({ deviceId, model: 'm', variant: 'fp32' }),
  });
  await fleet.start();
  return {
    fleet,
    store,
    changes,
    stop: async () => {
      await fleet.stop();
      await store.stop();
    },
  };
}

export function online(device: InProcessDevice, timeoutMs = 10_000): Promise<true> {
  return waitUntil(
    () => device.fleet.status().link.state === 'online' || undefined,
    timeoutMs,
    () => JSON.stringify(device.fleet.status().link),
  );
}
