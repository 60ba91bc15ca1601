import { EventEmitter } from 'node:events';
import type { IClientOptions, MqttClient } from 'mqtt';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { EdgeAgentError } from '../../../src/errors.js';
import { type LinkOptions, MqttLink } from '../../../src/fleet/connection.js';
import { connectOperator } from '../../../src/fleet/operator.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** Just enough of an MQTT.js client for the link: events, `connected`, `end()`. */
class FakeClient extends EventEmitter {
  connected = false;
  ended = false;
  constructor(
    readonly url: string,
    readonly options: IClientOptions,
  ) {
    super();
  }
  /** The broker accepts the CONNECT. */
  accept(sessionPresent = false): void {
    this.connected = true;
    this.emit('connect', { cmd: 'connack', sessionPresent, returnCode: 0 });
  }
  /** The broker refuses with a reason code, then the socket closes. */
  refuse(code: number, message: string): void {
    this.emit('error', Object.assign(new Error(message), { code }));
    this.close();
  }
  close(): void {
    this.connected = false;
    this.emit('close');
  }
  end(_force?: boolean, _opts?: object, cb?: () => void): this {
    this.ended = true;
    if (this.connected) this.close();
    cb?.();
    return this;
  }
}

const options: LinkOptions = {
  url: 'mqtt://fleet:s3cret@broker.lan:1883',
  clientId: 'cam-1',
  protocol: 'auto',
  keepaliveS: 30,
  connectTimeoutS: 5,
  sessionExpiryS: 3600,
  reconnect: { minDelayS: 1, maxDelayS: 60, stableAfterS: 30 },
};

const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('MqttLink with a broker URL the parser refuses', () => {
  it('reports a failed attempt and waits to retry, without throwing out of its loop', async () => {
    const clock = new FakeClock();
    const link = new MqttLink(
      { ...options, url: 'mqtt://bad host:1883' },
      { online: async () => undefined, offline: () => undefined },
      { clock, log: silentLogger(), random: () => 0.5 },
    );
    link.start();
    await settle();
    expect(link.snapshot()).toMatchObject({ state: 'waiting', failures: 1, lastError: 'Invalid URL' });
    await link.stop();
  });
});

describe('MqttLink with an injected connect (no broker)', () => {
  it('falls back to MQTT 3.1.1 on a protocol refusal, goes online, reconnects after a drop, stops cleanly', async () => {
    const clock = new FakeClock();
    const clients: FakeClient[] = [];
    const events: string[] = [];
    const link = new MqttLink(
      options,
      {
        online: async (ctx) =>
          void events.push(`online v${ctx.protocolVersion} session=${ctx.sessionPresent}`),
        offline: () => void events.push('offline'),
      },
      {
        clock,
        log: silentLogger(),
        random: () => 0.5,
        connect: (url, o) => {
          const client = new FakeClient(url, o);
          clients.push(client);
          return client as unknown as MqttClient;
        },
      },
    );
    expect(link.snapshot().url).toBe('mqtt://fleet:***@broker.lan:1883');
    link.start();
    await settle();
    expect(clients).toHaveLength(1);
    expect(clients[0]!.options).toMatchObject({
      clientId: 'cam-1',
      protocolVersion: 5,
      clean: false,
      reconnectPeriod: 0,
    });

    clients[0]!.refuse(132, 'Unsupported protocol version');
    await settle();
    // The refusal switches the protocol and retries at once, without a backoff sleep.
    expect(clients).toHaveLength(2);
    expect(clients[1]!.options.protocolVersion).toBe(4);
    clients[1]!.accept(true);
    await settle();
    expect(events).toEqual(['online v4 session=true']);
    expect(link.snapshot()).toMatchObject({ state: 'online', protocolVersion: 4, connects: 1, failures: 1 });
    expect(link.client).toBe(clients[1]);

    clients[1]!.close(); // the connection drops
    await settle();
    expect(events.at(-1)).toBe('offline');
    expect(link.snapshot().state).toBe('waiting');
    expect(link.client).toBeUndefined();
    await clock.advance(link.snapshot().nextRetryMs!);
    expect(clients).toHaveLength(3);
    clients[2]!.accept();
    await settle();
    expect(link.snapshot()).toMatchObject({ state: 'online', connects: 2 });

    await link.stop(async () => void events.push('before disconnect'));
    expect(events.at(-1)).toBe('offline');
    expect(events).toContain('before disconnect');
    expect(clients[2]!.ended).toBe(true);
    expect(link.snapshot().state).toBe('stopped');
  });
});

describe('the operator connection (edge-agent fleet)', () => {
  it('names the broker without its password when it cannot connect', async () => {
    const config = parseConfig({ mqtt: { protocol: '3.1.1' } }).mqtt;
    // Port 1 on loopback: refused at once.
    const error = await connectOperator('mqtt://fleet:op-s3cret@127.0.0.1:1', config, 2000).catch((e) => e);
    expect(error).toBeInstanceOf(EdgeAgentError);
    expect(error.message).toContain('cannot connect to the MQTT broker mqtt://fleet:***@127.0.0.1:1');
    expect(error.message).not.toContain('op-s3cret');
  });
});
