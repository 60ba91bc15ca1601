import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  cameraState,
  connectionQuality,
  DEFAULT_BACKOFF,
  WindowCounter,
} from '../../../src/camera/health.js';

describe('backoffDelayMs', () => {
  const policy = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };
  it.each([
    [1, 0.5, 1000],
    [2, 0.5, 2000],
    [3, 0.5, 4000],
    [5, 0.5, 16_000],
    [6, 0.5, 30_000],
    [20, 0.5, 30_000],
    [1, 0, 800],
    [1, 0.999, 1200],
    [20, 0.999, 35_988],
  ])('failure %i with random %f → %i ms', (failures, random, expected) => {
    expect(backoffDelayMs(failures, policy, random)).toBe(expected);
  });

  it('grows monotonically (median) and stays within the jitter band', () => {
    let previous = 0;
    for (let n = 1; n < 12; n++) {
      const mid = backoffDelayMs(n, DEFAULT_BACKOFF, 0.5);
      expect(mid).toBeGreaterThanOrEqual(previous);
      previous = mid;
      expect(backoffDelayMs(n, DEFAULT_BACKOFF, 0)).toBeGreaterThanOrEqual(mid * 0.8 - 1);
      expect(backoffDelayMs(n, DEFAULT_BACKOFF, 0.999)).toBeLessThanOrEqual(mid * 1.2 + 1);
    }
  });
});

describe('cameraState', () => {
  const t = { startedAtMs: 0, stallTimeoutMs: 10_000, offlineAfterMs: 30_000, failedSinceLastFrame: false };
  it.each([
    ['no frame yet, just started', { now: 1000, lastFrameAtMs: undefined }, 'starting'],
    ['frames arriving', { now: 5000, lastFrameAtMs: 4900 }, 'online'],
    ['quiet for the stall timeout', { now: 20_000, lastFrameAtMs: 9000 }, 'stalled'],
    ['quiet for the offline time', { now: 40_000, lastFrameAtMs: 9000 }, 'offline'],
    ['never delivered, offline time passed', { now: 30_000, lastFrameAtMs: undefined }, 'offline'],
    ['crashed, restarting', { now: 5000, lastFrameAtMs: 4900, failedSinceLastFrame: true }, 'stalled'],
    [
      'never delivered, restarted',
      { now: 5000, lastFrameAtMs: undefined, failedSinceLastFrame: true },
      'stalled',
    ],
    ['crashed long ago', { now: 50_000, lastFrameAtMs: 4900, failedSinceLastFrame: true }, 'offline'],
  ] as const)('%s → %s', (_name, input, expected) => {
    expect(cameraState({ ...t, ...input })).toBe(expected);
  });
});

describe('connectionQuality', () => {
  it.each([
    ['online', 0, 0, 'excellent'],
    ['online', 1, 0, 'fair'],
    ['online', 2, 1, 'fair'],
    ['online', 3, 1, 'poor'],
    ['stalled', 6, 4, 'unusable'],
    ['offline', 0, 0, 'unusable'],
  ] as const)('%s with %i reconnects and %i stalls → %s', (state, r, s, expected) => {
    expect(connectionQuality(state, r, s)).toBe(expected);
  });
});

describe('WindowCounter', () => {
  it('counts only the events of the last window', () => {
    const w = new WindowCounter(1000);
    w.add(0);
    w.add(500);
    w.add(900);
    expect(w.count(950)).toBe(3);
    expect(w.count(1400)).toBe(2);
    expect(w.count(2000)).toBe(0);
  });
});
