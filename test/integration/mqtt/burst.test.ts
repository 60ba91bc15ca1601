import { afterEach, describe, expect, it } from 'vitest';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { Observer, online, startDevice, waitUntil } from './support.js';

/**
 * Issue 12 item 14: a burst of commands through a real Mosquitto (its default queue and
 * in-flight limits): every request gets exactly one answer, and cheap read-only commands are
 * never refused by the limit meant for heavy ones.
 */
const run = requireMosquitto();
const P = 'edge-agent';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function burst(
  observer: Observer,
  device: string,
  requests: Array<{ command: string; params?: Record<string, unknown> }>,
): Promise<Map<string, Record<string, unknown>>> {
  const answers = new Map<string, Record<string, unknown>>();
  observer.client.on('message', (topic, payload) => {
    if (!topic.startsWith(`${P}/${device}/response/`)) return;
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    answers.set(String(body.transaction), body);
  });
  await observer.client.subscribeAsync(`${P}/${device}/response/+`, { qos: 1 });
  await Promise.all(
    requests.map((r, i) =>
      observer.client.publishAsync(
        `${P}/${device}/request/${r.command}`,
        JSON.stringify({ transaction: `b${i}`, ...r.params }),
        { qos: 1 },
      ),
    ),
  );
  await waitUntil(
    () => answers.size >= requests.length,
    60_000,
    () => `${answers.size} of ${requests.length} answered`,
  ).catch(() => undefined);
  return answers;
}

describe.runIf(run)('command bursts through Mosquitto (default queue limits)', { timeout: 120_000 }, () => {
  it('answers 2,000 pings sent at once, every one ok', async () => {
    // The helper's broker queues without limit, so anything unanswered was lost in the agent.
    const b = await Mosquitto.start();
    cleanups.push(() => b.stop());
    const d = await startDevice('burst-1', { url: b.url });
    cleanups.push(() => d.stop());
    await online(d);
    const o = await Observer.connect(b.url);
    cleanups.push(() => o.close());

    const answers = await burst(
      o,
      'burst-1',
      Array.from({ length: 2000 }, () => ({ command: 'ping' })),
    );
    const statuses = [...answers.values()].reduce<Record<string, number>>((acc, a) => {
      acc[String(a.status)] = (acc[String(a.status)] ?? 0) + 1;
      return acc;
    }, {});
    expect({ answered: answers.size, statuses }).toEqual({ answered: 2000, statuses: { ok: 2000 } });
  });

  it('answers every request of a mixed burst: reads ok, state changes ok or an explicit busy', async () => {
    const b = await Mosquitto.start();
    cleanups.push(() => b.stop());
    const d = await startDevice('burst-2', { url: b.url });
    cleanups.push(() => d.stop());
    await online(d);
    const o = await Observer.connect(b.url);
    cleanups.push(() => o.close());

    const requests = Array.from({ length: 600 }, (_, i) =>
      i % 3 === 0
        ? { command: 'set-fps', params: { fps: 1 + (i % 10) } }
        : { command: i % 3 === 1 ? 'ping' : 'get-status' },
    );
    const answers = await burst(o, 'burst-2', requests);
    expect(answers.size).toBe(requests.length);
    for (const [transaction, answer] of answers) {
      const i = Number(transaction.slice(1));
      if (requests[i]!.command === 'set-fps') {
        if (answer.status === 'error') expect(answer.error).toMatch(/^busy/);
      } else {
        expect(answer).toMatchObject({ status: 'ok' });
      }
    }
  });
});
