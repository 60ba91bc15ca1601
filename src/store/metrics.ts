import type { Db } from './database.js';

export type MetricValue = number | string | boolean | null;
export type MetricFields = Readonly<Record<string, MetricValue>>;

export interface MetricsRetention {
  /** Raw samples older than this are rolled up and deleted. */
  rawRetentionS: number;
  /** Bucket size of the rolled-up history. */
  rollupS: number;
  /** Rolled-up buckets older than this are deleted. */
  rollupRetentionDays: number;
}

export interface RawSample {
  ts: number;
  fields: Record<string, MetricValue>;
}

/** One point of a field's history: a rolled-up bucket, or a raw sample (count 1). */
export interface HistoryPoint {
  ts: number;
  count: number;
  avg: number;
  min: number;
  max: number;
  last: number;
}

interface Bucket {
  field: string;
  start: number;
  count: number;
  sum: number;
  min: number;
  max: number;
  last: number;
  lastTs: number;
}

/**
 * Telemetry history: every sample raw for a short window, then numeric fields rolled up into
 * fixed buckets (count, sum, min, max, last) that are kept for weeks. Text fields (model, variant)
 * live only in the raw window.
 */
export class MetricsStore {
  private readonly insert;

  constructor(
    private readonly db: Db,
    private readonly retention: MetricsRetention,
  ) {
    this.insert = db.prepare('INSERT INTO metrics_raw (ts, fields) VALUES (?, ?)');
  }

  record(ts: number, fields: MetricFields): void {
    this.insert.run(ts, JSON.stringify(fields));
  }

  /** Raw samples in [fromMs, toMs], oldest first. */
  raw(fromMs: number, toMs: number): RawSample[] {
    const rows = this.db
      .prepare('SELECT ts, fields FROM metrics_raw WHERE ts BETWEEN ? AND ? ORDER BY ts, id')
      .all(fromMs, toMs) as Array<{ ts: number; fields: string }>;
    return rows.map((r) => ({ ts: r.ts, fields: JSON.parse(r.fields) as Record<string, MetricValue> }));
  }

  /**
   * Moves raw samples older than the raw window into buckets (merged with existing ones) and
   * deletes them; deletes buckets past their retention. Only whole buckets are rolled up, so a
   * bucket is never split between the raw and the rolled-up table.
   */
  rollup(now: number): { rolledUp: number; bucketsWritten: number; bucketsDeleted: number } {
    const bucketMs = this.retention.rollupS * 1000;
    const cutoff = Math.floor((now - this.retention.rawRetentionS * 1000) / bucketMs) * bucketMs;
    return this.db.transaction(() => {
      const rows = this.db
        .prepare('SELECT ts, fields FROM metrics_raw WHERE ts < ? ORDER BY ts, id')
        .all(cutoff) as Array<{ ts: number; fields: string }>;
      const buckets = aggregate(rows, bucketMs);
      const upsert = this.db.prepare(`
        INSERT INTO metrics_rollup (bucket_start, bucket_s, field, count, sum, min, max, last)
        VALUES (@start, @bucketS, @field, @count, @sum, @min, @max, @last)
        ON CONFLICT (field, bucket_start) DO UPDATE SET
          count = count + excluded.count, sum = sum + excluded.sum,
          min = min(min, excluded.min), max = max(max, excluded.max), last = excluded.last`);
      for (const b of buckets) upsert.run({ ...b, bucketS: this.retention.rollupS });
      this.db.prepare('DELETE FROM metrics_raw WHERE ts < ?').run(cutoff);
      const keepFrom = now - this.retention.rollupRetentionDays * 86_400_000;
      const bucketsDeleted = this.db
        .prepare('DELETE FROM metrics_rollup WHERE bucket_start < ?')
        .run(keepFrom).changes;
      return { rolledUp: rows.length, bucketsWritten: buckets.length, bucketsDeleted };
    })();
  }

  /** A numeric field over [fromMs, toMs]: rolled-up buckets first, then the raw samples. */
  history(field: string, fromMs: number, toMs: number): HistoryPoint[] {
    const rolled = this.db
      .prepare(
        'SELECT bucket_start AS ts, count, sum, min, max, last FROM metrics_rollup WHERE field = ? AND bucket_start BETWEEN ? AND ? ORDER BY bucket_start',
      )
      .all(field, fromMs, toMs) as Array<{
      ts: number;
      count: number;
      sum: number;
      min: number;
      max: number;
      last: number;
    }>;
    const points: HistoryPoint[] = rolled.map((r) => ({
      ts: r.ts,
      count: r.count,
      avg: r.sum / r.count,
      min: r.min,
      max: r.max,
      last: r.last,
    }));
    for (const sample of this.raw(fromMs, toMs)) {
      const v = sample.fields[field];
      if (typeof v === 'number' && Number.isFinite(v))
        points.push({ ts: sample.ts, count: 1, avg: v, min: v, max: v, last: v });
    }
    return points;
  }

  counts(): { raw: number; buckets: number } {
    const raw = (this.db.prepare('SELECT count(*) AS n FROM metrics_raw').get() as { n: number }).n;
    const buckets = (this.db.prepare('SELECT count(*) AS n FROM metrics_rollup').get() as { n: number }).n;
    return { raw, buckets };
  }
}

/** Groups samples into (field, bucket) aggregates; numeric finite values only. Pure. */
export function aggregate(rows: ReadonlyArray<{ ts: number; fields: string }>, bucketMs: number): Bucket[] {
  const buckets = new Map<string, Bucket>();
  for (const row of rows) {
    const start = Math.floor(row.ts / bucketMs) * bucketMs;
    const fields = JSON.parse(row.fields) as Record<string, MetricValue>;
    for (const [field, value] of Object.entries(fields)) {
      const v = typeof value === 'boolean' ? Number(value) : value;
      if (typeof v !== 'number' || !Number.isFinite(v)) continue;
      const key = `${field}\u0000${start}`;
      const b = buckets.get(key);
      if (!b) {
        buckets.set(key, { field, start, count: 1, sum: v, min: v, max: v, last: v, lastTs: row.ts });
        continue;
      }
      b.count++;
      b.sum += v;
      b.min = Math.min(b.min, v);
      b.max = Math.max(b.max, v);
      if (row.ts >= b.lastTs) {
        b.last = v;
        b.lastTs = row.ts;
      }
    }
  }
  return [...buckets.values()];
}
