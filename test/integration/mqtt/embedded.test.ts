import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerStartError, EmbeddedBroker } from '../../../src/fleet/embedded-broker.js';
import { silentLogger } from '../../../src/log.js';
import { Observer, online, request, startDevice, waitUntil } from './support.js';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

describe('embedded broker (aedes) for mqtt.url "embedded"', () => {
  it('serves a single device with no broker installed: MQTT 5 refused, 3.1.1 used, everything works', async () => {
    const d = await startDevice('solo', { url: 'embedded', embedded: { port: 0 } });
    cleanups.push(() => d.stop());
    await online(d);
    const status = d.fleet.status();
    expect(status.embeddedBroker).toMatch(/^mqtt:\/\/127\.0\.0\.1:\d+$/);
    // aedes answers an MQTT 5 CONNECT with "unacceptable protocol version": the link falls back.
    expect(status.link.protocolVersion).toBe(4);
    expect(status.link.failures).toBe(1);

    const o = await Observer.connect(d.fleet.brokerUrl, { protocolVersion: 4 }, [
      'edge-agent/solo/availability',
      'edge-agent/solo/telemetry',
      'edge-agent/solo/events',
    ]);
    cleanups.push(() => o.close());
    await waitUntil(() => o.on('edge-agent/solo/availability')[0], 5000);
    expect(o.on('edge-agent/solo/availability')[0]).toMatchObject({ retain: true });
    expect((await request(o, 'edge-agent', 'solo', 'ping')).status).toBe('ok');
    expect((await request(o, 'edge-agent', 'solo', 'set-model', { variant: 'int8' })).data).toMatchObject({
      variant: 'int8',
    });

    d.store.outbox.enqueue({ kind: 'telemetry', topic: d.fleet.topics.telemetry, payload: '{"fps":1}' });
    d.store.events.emit('camera-lost', { source: 'v4l2:/dev/video0' }, 'warning');
    await waitUntil(
      () => o.on('edge-agent/solo/events').length === 1 && o.on('edge-agent/solo/telemetry').length === 1,
      5000,
      () =>
        JSON.stringify({
          topics: o.messages.map((m) => m.topic),
          st: d.fleet.status(),
          pending: d.store.outbox.pending(),
        }),
    );
    expect(o.json('edge-agent/solo/events')[0]).toMatchObject({ type: 'camera-lost', severity: 'warning' });
    await d.fleet.drained();
    expect(d.store.outbox.pending()).toBe(0);
  });

  it('reports a taken port clearly, naming the way out', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', () => resolve()));
    cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
    const port = (blocker.address() as { port: number }).port;
    const error = await EmbeddedBroker.start({ host: '127.0.0.1', port, log: silentLogger() }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(BrokerStartError);
    expect(error.message).toContain(`cannot listen on 127.0.0.1:${port}`);
    expect(error.message).toContain(`set mqtt.url to mqtt://127.0.0.1:${port}`);
  });
});
