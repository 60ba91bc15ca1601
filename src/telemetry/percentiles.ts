/**
 * The one latency window and the one percentile of the agent (pipeline stats, telemetry records,
 * per-variant latency of the HTTP models table, the bench all use these). Percentiles are
 * nearest-rank on a 0..100 scale.
 */

/** Nearest-rank percentile (p in 0..100) of an ascending array; undefined when empty. Pure. */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

/** `percentile` of values in any order (sorts a copy); NaN when empty. For reports, not hot paths. */
export function percentileOf(values: readonly number[], p: number): number {
  const sorted = Float64Array.from(values).sort();
  return percentile(sorted, p) ?? Number.NaN;
}

/** Raw figures of a window (unrounded). `count` is every value added, `kept` those retained. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  count: number;
  kept: number;
  mean: number;
  max: number;
}

/** A latency as the status API shows it: over the retained samples, in ms rounded to µs. */
export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface LatencyWindowOptions {
  /**
   * Past capacity: `recent` keeps the newest samples (a ring — the pipeline's "now"),
   * `reservoir` a uniform random subset of the interval (telemetry between two records).
   */
  keep?: 'recent' | 'reservoir';
  random?: () => number;
}

/** Samples of one latency, bounded: memory stays fixed however fast frames arrive. */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private readonly keep: 'recent' | 'reservoir';
  private readonly random: () => number;
  private size = 0;
  private seen = 0;
  /** Next slot to overwrite in `recent` mode. */
  private next = 0;

  constructor(
    readonly capacity = 4096,
    options: LatencyWindowOptions = {},
  ) {
    this.samples = new Float64Array(capacity);
    this.keep = options.keep ?? 'reservoir';
    this.random = options.random ?? Math.random;
  }

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    this.seen++;
    if (this.keep === 'recent') {
      this.samples[this.next] = value;
      this.next = (this.next + 1) % this.capacity;
      this.size = Math.min(this.capacity, this.size + 1);
      return;
    }
    if (this.size < this.capacity) {
      this.samples[this.size++] = value;
      return;
    }
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.capacity) this.samples[slot] = value;
  }

  /** Number of values added since the last reset (not only those kept). */
  get count(): number {
    return this.seen;
  }

  /** The retained samples (oldest first in `recent` mode). */
  values(): number[] {
    const out: number[] = [];
    const start = this.keep === 'recent' && this.size === this.capacity ? this.next : 0;
    for (let i = 0; i < this.size; i++) out.push(this.samples[(start + i) % this.capacity]!);
    return out;
  }

  summary(): Percentiles | undefined {
    if (this.size === 0) return undefined;
    const sorted = this.samples.slice(0, this.size).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      p50: percentile(sorted, 50)!,
      p95: percentile(sorted, 95)!,
      p99: percentile(sorted, 99)!,
      count: this.seen,
      kept: this.size,
      mean: sum / this.size,
      max: sorted[sorted.length - 1]!,
    };
  }

  /** The status-API form; zeros when empty. */
  latency(): LatencySummary {
    const s = this.summary();
    if (!s) return { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 };
    return {
      count: s.kept,
      meanMs: round3(s.mean),
      p50Ms: round3(s.p50),
      p95Ms: round3(s.p95),
      p99Ms: round3(s.p99),
      maxMs: round3(s.max),
    };
  }

  reset(): void {
    this.size = 0;
    this.seen = 0;
    this.next = 0;
  }
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;
