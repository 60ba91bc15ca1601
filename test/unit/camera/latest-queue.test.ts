import { describe, expect, it } from 'vitest';
import { LatestQueue } from '../../../src/camera/latest-queue.js';

describe('LatestQueue', () => {
  it('newest wins: a full queue drops its oldest item, counted and handed to onDrop', async () => {
    const dropped: number[] = [];
    const q = new LatestQueue<number>(2, undefined, (n) => dropped.push(n));
    for (let n = 0; n < 5; n++) q.push(n);
    expect(dropped).toEqual([0, 1, 2]);
    expect(q.dropped).toBe(3);
    expect(await q.next()).toEqual({ value: 3, done: false });
    expect(await q.next()).toEqual({ value: 4, done: false });
    // An item handed straight to a waiting reader is never dropped.
    const waiting = q.next();
    q.push(5);
    expect(await waiting).toEqual({ value: 5, done: false });
    q.close();
    expect(await q.next()).toEqual({ value: undefined, done: true });
    expect(dropped).toEqual([0, 1, 2]);
  });

  it('lossless: nothing is dropped; the producer sees `full` and is told when there is space', async () => {
    const dropped: number[] = [];
    let spaces = 0;
    const q = new LatestQueue<number>(2, { onSpace: () => spaces++ }, (n) => dropped.push(n));
    for (let n = 0; n < 4; n++) q.push(n);
    expect(q.full).toBe(true);
    const got: number[] = [];
    for (let n = 0; n < 4; n++) got.push((await q.next()).value as number);
    expect(got).toEqual([0, 1, 2, 3]);
    expect(dropped).toEqual([]);
    expect(q.dropped).toBe(0);
    expect(spaces).toBeGreaterThan(0);
  });
});
