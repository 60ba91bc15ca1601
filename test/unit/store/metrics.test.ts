import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/store/database.js';
import { aggregate, MetricsStore } from '../../../src/store/metrics.js';

const T0 = 1_700_000_040_000; // a multiple of 60 s

describe('MetricsStore', () => {
  it('aggregates numeric fields per bucket (booleans as 0/1, text ignored)', () => {
    const rows = [
      { ts: T0 + 1000, fields: JSON.stringify({ fps: 2, model: 'x', throttled: true }) },
      { ts: T0 + 2000, fields: JSON.stringify({ fps: 4, throttled: false }) },
      { ts: T0 + 61_000, fields: JSON.stringify({ fps: 10 }) },
    ];
    const buckets = aggregate(rows, 60_000);
    const fps0 = buckets.find((b) => b.field === 'fps' && b.start === T0);
    expect(fps0).toMatchObject({ count: 2, sum: 6, min: 2, max: 4, last: 4 });
    expect(buckets.find((b) => b.field === 'throttled')).toMatchObject({ count: 2, sum: 1 });
    expect(buckets.some((b) => b.field === 'model')).toBe(false);
    expect(buckets.find((b) => b.field === 'fps' && b.start === T0 + 60_000)).toMatchObject({
      count: 1,
      last: 10,
    });
  });

  it('keeps raw samples for the raw window, then rolls whole buckets up and applies retention', () => {
    const db = openDatabase({ file: ':memory:' });
    const m = new MetricsStore(db, { rawRetentionS: 120, rollupS: 60, rollupRetentionDays: 1 });
    for (let i = 0; i < 30; i++) m.record(T0 + i * 10_000, { fps: i, variant: 'fp32' }); // 5 minutes
    const now = T0 + 300_000;
    const r = m.rollup(now);
    // Cut-off = floor((now - 120 s) / 60 s) * 60 s = T0 + 180 s: the first 18 samples are rolled up.
    expect(r.rolledUp).toBe(18);
    expect(m.counts()).toEqual({ raw: 12, buckets: 3 });
    const history = m.history('fps', T0, now);
    expect(history.slice(0, 3).map((p) => [p.count, p.avg, p.min, p.max])).toEqual([
      [6, 2.5, 0, 5],
      [6, 8.5, 6, 11],
      [6, 14.5, 12, 17],
    ]);
    expect(history.slice(3).map((p) => p.avg)).toEqual([18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
    // A second pass merges new samples into an existing bucket instead of duplicating it.
    m.record(T0 + 1000, { fps: 100 });
    m.rollup(now);
    expect(m.history('fps', T0, T0).at(0)).toMatchObject({ count: 7, max: 100 });
    // Retention: a day later everything rolled up is gone.
    const later = m.rollup(now + 2 * 86_400_000);
    expect(later.bucketsDeleted).toBeGreaterThan(0);
    expect(m.counts()).toEqual({ raw: 0, buckets: 0 });
  });
});
