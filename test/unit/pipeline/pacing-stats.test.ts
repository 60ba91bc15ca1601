import { describe, expect, it } from 'vitest';
import { loopMode } from '../../../src/pipeline/core.js';
import {
  describePacing,
  minIntervalMs,
  nextDueMs,
  overlapsPreparation,
  releasesCamera,
} from '../../../src/pipeline/pacing.js';
import { pacingSchema } from '../../../src/pipeline/pacing-schema.js';
import { RateMeter } from '../../../src/pipeline/stats.js';
import { LatencyWindow, percentile, percentileOf } from '../../../src/telemetry/percentiles.js';

describe('pacing', () => {
  const duty = pacingSchema.parse({ mode: 'duty-cycle', intervalS: 10 });
  it.each([
    [{ mode: 'continuous' }, 0, true, false],
    [{ mode: 'continuous', fps: 5 }, 200, false, false],
    [{ mode: 'duty-cycle', intervalS: 10 }, 10_000, false, true],
    [{ mode: 'duty-cycle', intervalS: 2 }, 2000, false, false],
    [{ mode: 'duty-cycle', intervalS: 60, releaseCamera: false }, 60_000, false, false],
  ])('%j: interval %i ms, overlap %s, releases camera %s', (input, interval, overlap, release) => {
    const p = pacingSchema.parse(input);
    expect(minIntervalMs(p)).toBe(interval);
    expect(overlapsPreparation(p)).toBe(overlap);
    expect(releasesCamera(p)).toBe(release);
  });

  it.each([
    [{ mode: 'continuous' }, false, 'overlapped'],
    [{ mode: 'continuous' }, true, 'queued'],
    [{ mode: 'continuous', fps: 5 }, true, 'paced'],
    [{ mode: 'duty-cycle', intervalS: 2 }, false, 'paced'],
    [{ mode: 'duty-cycle', intervalS: 60 }, false, 'shots'],
    [{ mode: 'duty-cycle', intervalS: 60, releaseCamera: false }, false, 'paced'],
  ])('%j (lossless source %s): loop mode %s', (input, lossless, mode) => {
    expect(loopMode(pacingSchema.parse(input), lossless)).toBe(mode);
  });

  it('next due time', () => {
    expect(nextDueMs(duty, undefined)).toBe(Number.NEGATIVE_INFINITY);
    expect(nextDueMs(duty, 1000)).toBe(11_000);
    expect(nextDueMs(pacingSchema.parse({ mode: 'continuous' }), 1000)).toBe(Number.NEGATIVE_INFINITY);
  });

  it('defaults and validation for run-time changes (fleet commands)', () => {
    expect(duty).toEqual({ mode: 'duty-cycle', intervalS: 10, releaseCamera: true, warmupFrames: 3 });
    expect(pacingSchema.safeParse({ mode: 'continuous', fps: -1 }).success).toBe(false);
    expect(pacingSchema.safeParse({ mode: 'sometimes' }).success).toBe(false);
    expect(describePacing(duty)).toBe('duty cycle: 1 frame every 10 s, camera released in between');
  });
});

describe('stats', () => {
  it('nearest-rank percentiles', () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 95)).toBe(10);
    expect(percentile(sorted, 0)).toBe(1);
    expect(percentile(new Float64Array(0), 50)).toBeUndefined();
    expect(percentileOf([10, 1, 5, 3], 50)).toBe(3);
    expect(percentileOf([], 50)).toBeNaN();
  });

  it('a recent-samples LatencyWindow keeps the last samples only', () => {
    const w = new LatencyWindow(4, { keep: 'recent' });
    for (const v of [100, 100, 1, 2, 3, 4]) w.add(v);
    expect(w.values()).toEqual([1, 2, 3, 4]);
    expect(w.latency()).toMatchObject({ count: 4, p50Ms: 2, maxMs: 4, meanMs: 2.5 });
    expect(w.count).toBe(6);
    expect(new LatencyWindow(4, { keep: 'recent' }).latency()).toMatchObject({ count: 0, p50Ms: 0 });
  });

  it('RateMeter: events per second over the window', () => {
    const r = new RateMeter(1000);
    for (let t = 0; t <= 1000; t += 100) r.add(t);
    expect(r.perSecond(1000)).toBeCloseTo(10, 0);
    expect(r.perSecond(5000)).toBe(0);
  });
});
