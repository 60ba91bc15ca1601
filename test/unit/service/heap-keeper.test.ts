import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../../../src/errors.js';
import {
  type CollectionInfo,
  collectionFields,
  fullCollection,
  HEAP_HEADROOM_ENV,
  type HeapKeeperOptions,
  heapKeeperOptions,
  heapUsedBytes,
  INITIAL_KEEPER_STATE,
  keeperStep,
  oldHeapUsedBytes,
  startHeapKeeper,
} from '../../../src/service/heap-keeper.js';

const MB = 1024 * 1024;
const o: HeapKeeperOptions = { headroomBytes: 2 * MB, minIntervalMs: 5000, maxDeferMs: 5000 };

describe('keeperStep (pure)', () => {
  const after = { floorBytes: 10 * MB, lastCollectMs: 0, overSinceMs: undefined };
  it.each([
    // [case, state, used MB, now ms, idle, collect]
    ['the first reading sets the floor', INITIAL_KEEPER_STATE, 10, 0, true, false],
    ['within the headroom', after, 11.9, 10_000, true, false],
    ['over the headroom, idle, spaced', after, 12.1, 10_000, true, true],
    ['over, idle, but too soon after the last', after, 13, 4_000, true, false],
    ['over, busy, not yet deferred long enough', after, 13, 10_000, false, false],
    ['over, busy for longer than maxDeferMs', { ...after, overSinceMs: 4_000 }, 13, 10_000, false, true],
  ] as const)('%s', (_, state, usedMB, nowMs, idle, collect) => {
    expect(keeperStep(state, { usedBytes: usedMB * MB, nowMs, idle }, o).collect).toBe(collect);
  });

  it('a reading below the floor lowers it (V8 collected on its own), and clears the wait', () => {
    const { state } = keeperStep(
      { ...after, overSinceMs: 1 },
      { usedBytes: 7 * MB, nowMs: 9000, idle: false },
      o,
    );
    expect(state).toEqual({ floorBytes: 7 * MB, lastCollectMs: 0, overSinceMs: undefined });
  });

  it('remembers since when it has been over while it waits for a gap', () => {
    const first = keeperStep(after, { usedBytes: 13 * MB, nowMs: 6000, idle: false }, o);
    expect(first.state.overSinceMs).toBe(6000);
    const second = keeperStep(first.state, { usedBytes: 13.5 * MB, nowMs: 7000, idle: false }, o);
    expect(second.state.overSinceMs).toBe(6000);
    expect(keeperStep(second.state, { usedBytes: 14 * MB, nowMs: 11_000, idle: false }, o).collect).toBe(
      true,
    );
  });
});

describe('heapKeeperOptions (EDGE_AGENT_HEAP_HEADROOM_MB)', () => {
  it('defaults to 2 MB; 0 turns the keeper off; fractions are allowed', () => {
    expect(heapKeeperOptions({})?.headroomBytes).toBe(2 * MB);
    expect(heapKeeperOptions({ [HEAP_HEADROOM_ENV]: '' })?.headroomBytes).toBe(2 * MB);
    expect(heapKeeperOptions({ [HEAP_HEADROOM_ENV]: '0' })).toBeUndefined();
    expect(heapKeeperOptions({ [HEAP_HEADROOM_ENV]: '0.5' })?.headroomBytes).toBe(0.5 * MB);
  });

  it.each(['-1', 'lots', 'Infinity'])('refuses %j with the variable and what it takes', (raw) => {
    expect(() => heapKeeperOptions({ [HEAP_HEADROOM_ENV]: raw })).toThrow(ConfigError);
    expect(() => heapKeeperOptions({ [HEAP_HEADROOM_ENV]: raw })).toThrow(
      `EDGE_AGENT_HEAP_HEADROOM_MB: expected a number of MB ≥ 0 (0 leaves collections to V8), got "${raw}"`,
    );
  });
});

describe('startHeapKeeper', () => {
  afterEach(() => vi.useRealTimers());

  it('collects once the heap grows past the headroom, then measures from the new floor', () => {
    vi.useFakeTimers();
    let used = 10 * MB;
    let t = 0;
    const collected: number[] = [];
    const reports: CollectionInfo[] = [];
    // The whole heap: the old generation and 3 MB of young objects, emptied by the collection.
    let young = 3 * MB;
    const keeper = startHeapKeeper(o, {
      usedBytes: () => used,
      heapBytes: () => used + young,
      now: () => t,
      collect: () => {
        t += 4; // the pause
        used = 10.5 * MB;
        young = 0;
        collected.push(t);
      },
      onCollect: (c) => reports.push(c),
    });
    t = 1000;
    vi.advanceTimersByTime(1000); // floor 10 MB
    used = 12.5 * MB;
    t = 6000;
    vi.advanceTimersByTime(1000);
    expect(collected).toEqual([6004]);
    expect(reports).toEqual([
      { beforeBytes: 15.5 * MB, afterBytes: 10.5 * MB, pauseMs: 4, floorBytes: 10.5 * MB },
    ]);
    expect(collectionFields(reports[0]!)).toEqual({
      beforeMB: 15.5,
      afterMB: 10.5,
      floorMB: 10.5,
      pauseMs: 4,
    });
    expect(keeper.stats()).toMatchObject({
      collections: 1,
      lastPauseMs: 4,
      maxPauseMs: 4,
      floorBytes: 10.5 * MB,
    });
    used = 12 * MB; // 1.5 MB over the new floor: nothing
    t = 20_000;
    vi.advanceTimersByTime(1000);
    expect(collected).toHaveLength(1);
    keeper.stop();
    used = 50 * MB;
    vi.advanceTimersByTime(10_000);
    expect(collected).toHaveLength(1);
  });
});

describe('fullCollection (V8, this thread)', () => {
  it('collects garbage without --expose-gc on the command line, and leaves later contexts without gc', async () => {
    const gc = fullCollection();
    gc();
    const floor = oldHeapUsedBytes();
    // Old-generation garbage: survives two scavenges, then is dropped.
    let keep: unknown[] | undefined = Array.from({ length: 200_000 }, (_, i) => ({ i, s: `x${i}` }));
    for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 10));
    expect(oldHeapUsedBytes()).toBeGreaterThan(floor + 5 * MB);
    keep = undefined;
    gc();
    expect(keep).toBeUndefined();
    expect(oldHeapUsedBytes()).toBeLessThan(floor + 2 * MB);
    const { runInNewContext } = await import('node:vm');
    expect(runInNewContext('typeof gc')).toBe('undefined');
  });
});

describe('startHeapKeeper on V8 (this thread)', () => {
  afterEach(() => vi.useRealTimers());

  it('reports the whole heap before and after: lower after, even when live young objects are promoted', () => {
    vi.useFakeTimers();
    fullCollection()();
    const reports: CollectionInfo[] = [];
    // The trigger is scripted (a floor, then growth past it); the collection and the heap it reports are V8's.
    const readings = [0, 10 * MB];
    const keeper = startHeapKeeper(
      { headroomBytes: MB, minIntervalMs: 0, maxDeferMs: 0 },
      { usedBytes: () => readings.shift() ?? 0, onCollect: (c) => reports.push(c) },
    );
    vi.advanceTimersByTime(1000); // the floor
    // Garbage, and young objects that stay live: a full collection promotes these, so the old
    // generation alone can be higher after it than before (the agent's log once said so).
    const live = Array.from({ length: 50_000 }, (_, i) => ({ i, s: `live${i}` }));
    let garbage: unknown[] | undefined = Array.from({ length: 100_000 }, (_, i) => ({ i, s: `g${i}` }));
    garbage = undefined;
    vi.advanceTimersByTime(1000);
    keeper.stop();
    expect(garbage).toBeUndefined();
    expect(live).toHaveLength(50_000);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.afterBytes).toBeLessThan(reports[0]!.beforeBytes - 2 * MB);
    expect(reports[0]!.afterBytes).toBeLessThanOrEqual(heapUsedBytes() + MB);
  });
});
