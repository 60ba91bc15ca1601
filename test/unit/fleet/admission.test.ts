import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Admission } from '../../../src/fleet/admission.js';
import { CommandRouter, type CommandTable, defineCommand } from '../../../src/fleet/router.js';
import { silentLogger } from '../../../src/log.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('Admission (bounded run queue)', () => {
  it('runs up to the limit, queues up to the limit in order, refuses beyond', async () => {
    const a = new Admission({ maxRunning: 2, maxWaiting: 2 });
    const r1 = await a.acquire()!;
    const r2 = await a.acquire()!;
    const order: number[] = [];
    const w3 = a.acquire()!.then((r) => {
      order.push(3);
      return r;
    });
    const w4 = a.acquire()!.then((r) => {
      order.push(4);
      return r;
    });
    expect(a.acquire()).toBeUndefined();
    expect(a.stats()).toEqual({ running: 2, waiting: 2, refused: 1 });
    r1();
    r1(); // a second release is ignored
    const r3 = await w3;
    expect(a.stats()).toMatchObject({ running: 2, waiting: 1 });
    r2();
    const r4 = await w4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect(a.stats()).toEqual({ running: 0, waiting: 0, refused: 1 });
  });
});

describe('CommandRouter under a burst', () => {
  it('answers light commands while heavy ones fill the queue; heavy beyond it get an explicit busy', async () => {
    const gate: Array<() => void> = [];
    const table: CommandTable = {
      ping: defineCommand({
        summary: 'p',
        params: z.strictObject({}),
        mutates: false,
        cost: 'light',
        run: () => 'pong',
      }),
      slow: defineCommand({
        summary: 's',
        params: z.strictObject({}),
        mutates: false,
        run: () => new Promise<string>((resolve) => gate.push(() => resolve('done'))),
      }),
    };
    const router = new CommandRouter({
      deviceId: 'd',
      table,
      clock: new FakeClock(),
      log: silentLogger(),
      maxPayloadBytes: 1024,
      maxConcurrent: 2,
      maxQueued: 3,
    });
    const send = (command: string) =>
      router.handle({
        topic: `p/d/request/${command}`,
        scope: { kind: 'device' },
        command,
        payload: Buffer.from('{}'),
      });
    const heavy = Array.from({ length: 8 }, () => send('slow'));
    const pings = await Promise.all(Array.from({ length: 100 }, () => send('ping')));
    expect(pings.every((p) => p.status === 'ok')).toBe(true);
    // 2 running + 3 queued; the other 3 answered busy at once.
    const settled = await Promise.all(heavy.slice(5));
    expect(settled.map((r) => r.error)).toEqual([
      expect.stringMatching(/^busy: 2 requests running and 3 waiting/),
      expect.stringMatching(/^busy/),
      expect.stringMatching(/^busy/),
    ]);
    // Releasing the running ones lets the queued ones in, in turn.
    let finished = 0;
    void Promise.all(heavy.slice(0, 5)).then(() => (finished = 1));
    for (let i = 0; i < 50 && finished === 0; i++) {
      for (const open of gate.splice(0)) open();
      await new Promise((r) => setImmediate(r));
    }
    const done = await Promise.all(heavy.slice(0, 5));
    expect(done.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok', 'ok']);
  });

  it('runs state changes one at a time in order, without holding up heavy reads; a full line answers busy', async () => {
    const gates: Array<() => void> = [];
    const order: string[] = [];
    const table: CommandTable = {
      change: defineCommand({
        summary: 'c',
        params: z.strictObject({ n: z.int() }),
        mutates: true,
        run: ({ n }: { n: number }) =>
          new Promise<number>((resolve) => {
            order.push(`start ${n}`);
            gates.push(() => {
              order.push(`end ${n}`);
              resolve(n);
            });
          }),
      }),
      read: defineCommand({
        summary: 'r',
        params: z.strictObject({}),
        mutates: false,
        run: async () => 'read',
      }),
    };
    const router = new CommandRouter({
      deviceId: 'd',
      table,
      clock: new FakeClock(),
      log: silentLogger(),
      maxPayloadBytes: 1024,
      maxQueued: 2,
    });
    const send = (command: string, body = '{}') =>
      router.handle({
        topic: `p/d/request/${command}`,
        scope: { kind: 'device' },
        command,
        payload: Buffer.from(body),
      });
    const changes = [1, 2, 3, 4].map((n) => send('change', JSON.stringify({ n })));
    // 1 runs, 2 and 3 wait, 4 is refused at once.
    expect((await changes[3])!.error).toMatch(/^busy: 1 state changes running and 2 waiting/);
    // A heavy read is not stuck behind the running change.
    expect(await send('read')).toMatchObject({ status: 'ok', data: 'read' });
    for (let i = 0; i < 20 && order.length < 6; i++) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    expect(order).toEqual(['start 1', 'end 1', 'start 2', 'end 2', 'start 3', 'end 3']);
    expect((await Promise.all(changes.slice(0, 3))).map((r) => r.data)).toEqual([1, 2, 3]);
  });
});
