/** Nearest-rank percentile (p in 0..100) of an ascending array; undefined when empty. Pure. */
export function percentile(sorted: ArrayLike<number>, p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  count: number;
}

/**
 * Samples of one latency over an interval, bounded: past `capacity` samples it keeps a uniform
 * random subset (reservoir sampling), so memory stays fixed however fast frames arrive.
 */
export class LatencyWindow {
  private readonly samples: Float64Array;
  private size = 0;
  private seen = 0;

  constructor(
    readonly capacity = 4096,
    private readonly random: () => number = Math.random,
  ) {
    this.samples = new Float64Array(capacity);
  }

  add(value: number): void {
    if (!Number.isFinite(value)) return;
    this.seen++;
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

  summary(): Percentiles | undefined {
    if (this.size === 0) return undefined;
    const sorted = this.samples.slice(0, this.size).sort();
    return {
      p50: percentile(sorted, 50)!,
      p95: percentile(sorted, 95)!,
      p99: percentile(sorted, 99)!,
      count: this.seen,
    };
  }

  reset(): void {
    this.size = 0;
    this.seen = 0;
  }
}
