import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { openDatabase } from '../../../src/store/database.js';
import { Outbox } from '../../../src/store/outbox.js';
import { FakeClock } from '../../helpers/fake-clock.js';

function outbox(limits = { maxRows: 1000, maxAgeS: 3600 }, file = ':memory:', clock = new FakeClock()) {
  const db = openDatabase({ file });
  return { db, clock, box: new Outbox({ db, clock, limits, log: silentLogger() }) };
}

describe('Outbox', () => {
  it('returns messages in insertion order after a cursor and deletes only acknowledged ones', () => {
    const { box } = outbox();
    const ids = [1, 2, 3, 4].map((n) => box.enqueue({ kind: 'telemetry', topic: 't', payload: `m${n}` }));
    expect(box.pending()).toBe(4);
    const first = box.next(0, 2);
    expect(first.map((m) => m.payload.toString())).toEqual(['m1', 'm2']);
    expect(first[0]).toMatchObject({ qos: 1, retain: false, kind: 'telemetry', topic: 't' });
    expect(box.next(first[1]!.id, 10).map((m) => m.payload.toString())).toEqual(['m3', 'm4']);
    expect(box.ack(ids[1]!)).toBe(true);
    expect(box.ack(ids[1]!)).toBe(false);
    expect(box.ackMany([ids[0]!, ids[3]!, 999])).toBe(2);
    expect(box.next(0, 10).map((m) => m.payload.toString())).toEqual(['m3']);
    expect(box.pending()).toBe(1);
  });

  it('keeps rows across a reopen of the database file (what survives a SIGKILL)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-outbox-'));
    const file = path.join(dir, 'db.sqlite');
    const a = outbox(undefined, file);
    a.box.enqueueMany([1, 2, 3].map((n) => ({ kind: 'event', topic: 'e', payload: String(n) })));
    a.box.ack(a.box.next(0, 1)[0]!.id);
    // No close: the rows were committed when enqueue returned.
    const b = outbox(undefined, file);
    expect(b.box.pending()).toBe(2);
    expect(b.box.next(0, 10).map((m) => m.payload.toString())).toEqual(['2', '3']);
    a.db.close();
    b.db.close();
  });

  it('drops the oldest rows past maxRows and counts them durably', () => {
    const { box, db } = outbox({ maxRows: 100, maxAgeS: 3600 });
    for (let i = 0; i < 130; i++) box.enqueue({ kind: 'telemetry', topic: 't', payload: String(i) });
    expect(box.pending()).toBe(100);
    const rows = box.next(0, 1000);
    expect(rows[0]!.payload.toString()).toBe('30');
    expect(rows.at(-1)!.payload.toString()).toBe('129');
    expect(box.stats().droppedTotal).toBe(30);
    // The counter is in the database, not in memory.
    expect(
      new Outbox({ db, clock: new FakeClock(), limits: { maxRows: 100, maxAgeS: 3600 } }).stats()
        .droppedTotal,
    ).toBe(30);
  });

  it('drops rows older than maxAgeS and counts them', async () => {
    const clock = new FakeClock();
    const { box } = outbox({ maxRows: 1000, maxAgeS: 60 }, ':memory:', clock);
    box.enqueue({ kind: 'telemetry', topic: 't', payload: 'old' });
    await clock.advance(61_000);
    box.enqueue({ kind: 'telemetry', topic: 't', payload: 'new' });
    expect(box.next(0, 10).map((m) => m.payload.toString())).toEqual(['new']);
    expect(box.stats()).toMatchObject({ pending: 1, droppedTotal: 1, oldestCreatedAt: clock.now() });
  });

  it('wakes listeners on enqueue and survives a throwing listener', () => {
    const { box } = outbox();
    let calls = 0;
    box.onEnqueue(() => {
      throw new Error('boom');
    });
    const off = box.onEnqueue(() => calls++);
    box.enqueue({ kind: 'k', topic: 't', payload: 'x' });
    box.enqueueMany([
      { kind: 'k', topic: 't', payload: 'y' },
      { kind: 'k', topic: 't', payload: 'z', qos: 0, retain: true },
    ]);
    off();
    box.enqueue({ kind: 'k', topic: 't', payload: 'w' });
    expect(calls).toBe(2);
    expect(box.next(0, 10)[2]).toMatchObject({ qos: 0, retain: true });
  });
});
