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
});
