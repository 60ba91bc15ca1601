import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { commandTable } from '../../../src/features/feature.js';
import { defineCommand } from '../../../src/fleet/router.js';
import { STOPPED_BEFORE_DONE } from '../../../src/fleet/service.js';
import { Observer, online, startDevice, waitUntil } from './support.js';

/**
 * A command under way when the agent stops — a derive whose child the stop kills, a set-model
 * still loading — fails a moment later. It used to fail after the link (and here the embedded
 * broker) had closed: the sender got no answer at all. The stop now lets it answer first, within
 * a bounded wait; one still running after it is answered as interrupted. Real embedded broker, real
 * store, a real operator client.
 */
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

/**
 * A device whose only command is `name` (running `run`), online on its embedded broker, an operator
 * listening on its response topic, and the request sent with `transaction`. `stopped()` tells the
 * cleanup that the test stopped the link itself (only the store is left to close).
 */
async function deviceWithCommand(
  deviceId: string,
  name: string,
  command: { mutates: boolean; run: () => Promise<unknown> },
  transaction: string | number,
) {
  const commands = commandTable([
    {
      name,
      commands: {
        [name]: defineCommand({ summary: 'a test command', params: z.strictObject({}), ...command }),
      },
    },
  ]);
  const device = await startDevice(deviceId, { url: 'embedded', embedded: { port: 0 } }, commands);
  let stopped = false;
  cleanups.push(() => (stopped ? device.store.stop() : device.stop()));
  await online(device);
  const topic = `edge-agent/${deviceId}/response/${name}`;
  const observer = await Observer.connect(
    device.fleet.brokerUrl,
    { protocolVersion: 4, reconnectPeriod: 0 },
    [topic],
  );
  cleanups.push(() => observer.close().catch(() => undefined));
  await observer.client.publishAsync(
    `edge-agent/${deviceId}/request/${name}`,
    JSON.stringify({ transaction }),
    {
      qos: 1,
    },
  );
  const markStopped = () => {
    stopped = true;
  };
  return { ...device, observer, topic, stopped: markStopped };
}

describe('a command under way when the fleet link stops', () => {
  it('is answered and audited before the link closes', async () => {
    const deviceId = 'stopping';
    // A long command that fails as soon as "the agent stops" (here: 50 ms after the stop begins).
    const stopping = new AbortController();
    let running = false;
    const { fleet, store, observer, stopped } = await deviceWithCommand(
      deviceId,
      'slow',
      {
        mutates: false,
        run: () =>
          new Promise((_, reject) => {
            running = true;
            stopping.signal.addEventListener('abort', () => reject(new Error('aborted by the stop')));
          }),
      },
      't1',
    );
    await waitUntil(() => running || undefined, 5000);

    setTimeout(() => stopping.abort(), 50);
    await fleet.stop();
    stopped();
    // Published (QoS 1, acknowledged) before the broker closed: it reached the operator.
    await waitUntil(() => observer.json(`edge-agent/${deviceId}/response/slow`)[0], 2000);
    expect(observer.json(`edge-agent/${deviceId}/response/slow`)).toEqual([
      { status: 'error', device: deviceId, command: 'slow', transaction: 't1', error: 'aborted by the stop' },
    ]);
    expect(store.audit.list(5)).toEqual([
      expect.objectContaining({ command: 'slow', status: 'error', error: 'aborted by the stop' }),
    ]);
  });

  it('one that outlasts the bounded wait is answered as interrupted, audited once, its late outcome dropped', async () => {
    const deviceId = 'stopping-late';
    // Deaf to the stop: ends only when the test says so, after the link has closed.
    let finish: ((value: string) => void) | undefined;
    const { fleet, store, observer, topic, stopped } = await deviceWithCommand(
      deviceId,
      'deaf',
      { mutates: true, run: () => new Promise<string>((resolve) => (finish = resolve)) },
      7,
    );
    await waitUntil(() => finish, 5000);

    await fleet.stop();
    stopped();
    await waitUntil(() => observer.json(topic)[0], 2000);
    expect(observer.json(topic)).toEqual([
      { status: 'error', device: deviceId, command: 'deaf', transaction: '7', error: STOPPED_BEFORE_DONE },
    ]);
    // Its work ends after all: neither a second answer (the link is gone) nor a second audit row.
    finish!('done');
    await new Promise((r) => setTimeout(r, 100));
    expect(store.audit.list(5)).toEqual([
      expect.objectContaining({
        command: 'deaf',
        status: 'error',
        error: STOPPED_BEFORE_DONE,
        transaction: '7',
      }),
    ]);
  });
});
