import { describe, expect, it } from 'vitest';
import {
  ALLOCATION_FAILURE,
  CHILD_RSS_BASE_BYTES,
  MEMORY_RESERVE_BYTES,
  measuringMemory,
  ResidentWatch,
} from '../../../src/tuner/child-memory.js';

const MB = 1048576;

describe('measuringMemory (the cap of each measuring child, the group size)', () => {
  const base = { maxLiveProcesses: 4, largestNeedBytes: 100 * MB };
  it.each([
    ['budget only (not Linux: no MemAvailable)', { budgetBytes: 512 * MB }, 512 * MB, 4],
    ['explicit cap below the budget', { budgetBytes: 512 * MB, explicitBytes: 200 * MB }, 200 * MB, 4],
    ['no limits at all', {}, undefined, 4],
    [
      'plenty available: the budget holds',
      { budgetBytes: 512 * MB, availableBytes: 20_000 * MB },
      512 * MB,
      4,
    ],
    [
      'a 1 GB board with 600 MB available: the group shrinks to 2 before the share drops below the need',
      { budgetBytes: 1024 * MB, availableBytes: 600 * MB },
      Math.floor((600 * MB - MEMORY_RESERVE_BYTES) / 2) - CHILD_RSS_BASE_BYTES,
      2,
    ],
    [
      'almost nothing available: one child, a small cap (a big candidate will not fit, the device lives)',
      { budgetBytes: 1024 * MB, availableBytes: 250 * MB },
      250 * MB - MEMORY_RESERVE_BYTES - CHILD_RSS_BASE_BYTES,
      1,
    ],
  ] as const)('%s', (_name, limits, cap, group) => {
    const r = measuringMemory({ ...base, ...limits });
    expect(r.capBytes).toBe(cap);
    expect(r.maxLiveProcesses).toBe(group);
  });
  it('never goes below zero', () => {
    expect(measuringMemory({ ...base, availableBytes: 10 * MB }).capBytes).toBe(0);
  });
});

describe('ResidentWatch', () => {
  it('fires once when resident memory passes baseline + cap; the child-reported baseline replaces the default', () => {
    let rss = 100 * MB;
    const fired: number[] = [];
    const w = new ResidentWatch(
      1,
      50 * MB,
      (r, limit) => fired.push(r, limit),
      () => rss,
    );
    expect(w.limitBytes).toBe(CHILD_RSS_BASE_BYTES + 50 * MB);
    w.setBaseline(90 * MB);
    w.sample();
    rss = 139 * MB;
    w.sample();
    expect(fired).toEqual([]);
    rss = 141 * MB;
    w.sample();
    expect(fired).toEqual([141 * MB, 140 * MB]);
    expect(w.peakBytes).toBe(141 * MB);
  });
  it('recognises the allocation failures of onnxruntime, V8 and libc', () => {
    for (const m of [
      'bfc_arena.cc:360 Failed to allocate memory for requested buffer of size 1073741824',
      'std::bad_alloc',
      'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory',
      'mmap: Cannot allocate memory',
    ])
      expect(ALLOCATION_FAILURE.test(m), m).toBe(true);
    expect(ALLOCATION_FAILURE.test('Protobuf parsing failed')).toBe(false);
  });
});
