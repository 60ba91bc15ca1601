import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { compareText } from '../collate.js';
import type { AgentConfig } from '../config/index.js';
import { redactUrl } from '../config/redact.js';
import { EdgeAgentError, errorMessage, UsageError } from '../errors.js';
import { isProtocolRefusal } from './backoff.js';
import { brokerConnectOptions } from './broker-url.js';
import { parseDeviceTopic } from './topics.js';

/**
 * The operator side of the fleet (what `edge-agent fleet` uses): connecting to the fleet's broker
 * and keeping a view of the devices from their retained availability/info and their telemetry.
 * Only plain MQTT (retained messages, `+` wildcards, QoS 1), so it works on any broker or cluster.
 */

export type Target = { kind: 'device'; id: string } | { kind: 'group'; group: string };

const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;

export function parseTarget(text: string): Target {
  const group = /^group:(.+)$/.exec(text);
  const name = group ? group[1]! : text;
  if (!SEGMENT.test(name)) {
    throw new UsageError(
      `fleet: target "${text}" must be a device id or group:NAME (letters, digits, "_" or "-")`,
    );
  }
  return group ? { kind: 'group', group: name } : { kind: 'device', id: name };
}

export interface DeviceView {
  id: string;
  availability?: 'online' | 'offline' | string;
  info?: Record<string, unknown>;
  telemetry?: Record<string, unknown>;
  /** When the last telemetry arrived (ms). */
  telemetryAt?: number;
  status?: Record<string, unknown>;
}

/** Folds availability/info/telemetry messages into one view per device. Pure apart from `now`. */
export class FleetView {
  private readonly devices = new Map<string, DeviceView>();

  constructor(private readonly prefix: string) {}

  ingest(topic: string, payload: Buffer, now: number): DeviceView | undefined {
    const parsed = parseDeviceTopic(topic, this.prefix);
    if (!parsed || parsed.command !== undefined) return undefined;
    const kind = parsed.kind;
    if (kind !== 'availability' && kind !== 'info' && kind !== 'telemetry') return undefined;
    const device = this.device(parsed.deviceId);
    if (kind === 'availability') {
      device.availability = payload.toString('utf8').slice(0, 32);
      return device;
    }
    const json = parseObject(payload);
    if (!json) return undefined;
    if (kind === 'info') device.info = json;
    else {
      device.telemetry = json;
      device.telemetryAt = now;
    }
    return device;
  }

  setStatus(id: string, status: Record<string, unknown>): void {
    this.device(id).status = status;
  }

  private device(id: string): DeviceView {
    let d = this.devices.get(id);
    if (!d) {
      d = { id };
      this.devices.set(id, d);
    }
    return d;
  }

  get(id: string): DeviceView | undefined {
    return this.devices.get(id);
  }

  list(): DeviceView[] {
    return [...this.devices.values()].sort((a, b) => compareText(a.id, b.id));
  }

  /** Device ids whose retained info lists the group. */
  members(group: string): string[] {
    return this.list()
      .filter((d) => Array.isArray(d.info?.groups) && (d.info.groups as unknown[]).includes(group))
      .map((d) => d.id);
  }
}

/** Largest message the fleet CLI parses (a snapshot answer fits); bigger ones are ignored unread. */
export const MAX_OPERATOR_PAYLOAD_BYTES = 8 * 1024 * 1024;

function parseObject(payload: Buffer): Record<string, unknown> | undefined {
  if (payload.length > MAX_OPERATOR_PAYLOAD_BYTES) return undefined;
  try {
    const v = JSON.parse(payload.toString('utf8')) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    // Not ours or garbled: leave the device view as it was.
    return undefined;
  }
}

/** The latest telemetry figure of a device, from its telemetry message or its get-status answer. */
export function figure(device: DeviceView, field: string): unknown {
  const fromStatus = (device.status?.telemetry as Record<string, unknown> | undefined)?.[field];
  return device.telemetry?.[field] ?? fromStatus;
}

/** The broker URL an operator uses: the configured one, or the embedded broker's address. */
export function operatorUrl(config: AgentConfig['mqtt']): string {
  if (config.url !== 'embedded') return config.url;
  const host = config.embedded.host === '0.0.0.0' ? '127.0.0.1' : config.embedded.host;
  return `mqtt://${host}:${config.embedded.port || 1883}`;
}

/** Connects once (MQTT 5, 3.1.1 when the broker refuses 5); errors say which broker and why. */
export async function connectOperator(
  url: string,
  config: AgentConfig['mqtt'],
  timeoutMs = 10_000,
): Promise<MqttClient> {
  const tls: IClientOptions = {};
  for (const name of ['ca', 'cert', 'key'] as const) {
    const file = config.tls[name];
    if (file) tls[name] = readFileSync(file);
  }
  const base: IClientOptions = {
    clientId: `edge-agent-cli-${Math.random().toString(16).slice(2, 10)}`,
    reconnectPeriod: 0,
    connectTimeout: timeoutMs,
    clean: true,
    ...(config.username !== undefined ? { username: config.username } : {}),
    ...(config.password !== undefined ? { password: config.password } : {}),
    ...tls,
    rejectUnauthorized: config.tls.rejectUnauthorized,
    ...(config.tls.servername ? { servername: config.tls.servername } : {}),
  };
  const versions: Array<4 | 5> = config.protocol === '3.1.1' ? [4] : [5, 4];
  let last: unknown;
  for (const protocolVersion of versions) {
    try {
      return await connectOnce(url, { ...base, protocolVersion });
    } catch (err) {
      last = err;
      if (!isProtocolRefusal((err as { code?: number }).code)) break;
    }
  }
  throw new EdgeAgentError(
    `cannot connect to the MQTT broker ${redactUrl(url)}: ${redactUrl(errorMessage(last))} (set --url or mqtt.url)`,
    {
      cause: last,
    },
  );
}

function connectOnce(url: string, options: IClientOptions): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(brokerConnectOptions(url, options));
    let error: Error | undefined;
    client.once('connect', () => {
      client.removeAllListeners('close');
      client.on('error', () => undefined);
      resolve(client);
    });
    client.on('error', (err) => {
      error = err;
    });
    client.once('close', () => {
      client.end(true);
      reject(error ?? new Error('connection closed'));
    });
  });
}
