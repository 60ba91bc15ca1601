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

describe('a command under way when the fleet link stops', () => {
  it('is answered and audited before the link closes', async () => {
    const deviceId = 'stopping';
    // A long command that fails as soon as "the agent stops" (here: 50 ms after the stop begins).
    const stopping = new AbortController();
    let running = false;
    const commands = commandTable([
      {
        name: 'slow',
        commands: {
          slow: defineCommand({
            summary: 'waits until the agent stops',
            params: z.strictObject({}),
            mutates: false,
            run: () =>
              new Promise((_, reject) => {
                running = true;
                stopping.signal.addEventListener('abort', () => reject(new Error('aborted by the stop')));
              }),
          }),
        },
      },
    ]);
    const device = await startDevice(deviceId, { url: 'embedded', embedded: { port: 0 } }, commands);
    const { fleet, store } = device;
    let stopped = false;
    cleanups.push(() => (stopped ? store.stop() : device.stop()));
    await online(device);
    const observer = await Observer.connect(fleet.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 }, [
      `edge-agent/${deviceId}/response/slow`,
    ]);
    cleanups.push(() => observer.close().catch(() => undefined));
    await observer.client.publishAsync(
      `edge-agent/${deviceId}/request/slow`,
      JSON.stringify({ transaction: 't1' }),
      { qos: 1 },
    );
    await waitUntil(() => running || undefined, 5000);

    setTimeout(() => stopping.abort(), 50);
    await fleet.stop();
    stopped = true;
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
    // Deaf to the stop: ends 1.5 s after the stop began, long after the link closed.
    let finish: ((value: string) => void) | undefined;
    const commands = commandTable([
      {
        name: 'deaf',
        commands: {
          deaf: defineCommand({
            summary: 'ends when the test says so',
            params: z.strictObject({}),
            mutates: true,
            run: () => new Promise<string>((resolve) => (finish = resolve)),
          }),
        },
      },
    ]);
    const device = await startDevice(deviceId, { url: 'embedded', embedded: { port: 0 } }, commands);
    const { fleet, store } = device;
    let stopped = false;
    cleanups.push(() => (stopped ? store.stop() : device.stop()));
    await online(device);
    const topic = `edge-agent/${deviceId}/response/deaf`;
    const observer = await Observer.connect(fleet.brokerUrl, { protocolVersion: 4, reconnectPeriod: 0 }, [
      topic,
    ]);
    cleanups.push(() => observer.close().catch(() => undefined));
    await observer.client.publishAsync(
      `edge-agent/${deviceId}/request/deaf`,
      JSON.stringify({ transaction: 7 }),
      {
        qos: 1,
      },
    );
    await waitUntil(() => finish, 5000);

    await fleet.stop();
    stopped = true;
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
