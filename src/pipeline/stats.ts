/** Bounded-memory statistics for the pipeline: recent-sample percentiles and windowed rates. */

export interface Percentiles {
  count: number;
  meanMs: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Nearest-rank percentile of sorted values (q in [0, 1]). */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** Keeps the last `capacity` samples; percentiles over them. */
export class SampleWindow {
  private readonly samples: Float64Array;
  private next = 0;
  private filled = 0;
  total = 0;

  constructor(readonly capacity = 512) {
    this.samples = new Float64Array(capacity);
  }

  add(value: number): void {
    this.samples[this.next] = value;
    this.next = (this.next + 1) % this.capacity;
    this.filled = Math.min(this.capacity, this.filled + 1);
    this.total++;
  }

  /** The retained samples, oldest first. */
  values(): number[] {
    const out: number[] = [];
    const start = this.filled < this.capacity ? 0 : this.next;
    for (let i = 0; i < this.filled; i++) out.push(this.samples[(start + i) % this.capacity]!);
    return out;
  }

  summary(): Percentiles {
    const sorted = this.samples.slice(0, this.filled).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.filled,
      meanMs: round3(this.filled ? sum / this.filled : 0),
      p50Ms: round3(percentile(sorted, 0.5)),
      p95Ms: round3(percentile(sorted, 0.95)),
      p99Ms: round3(percentile(sorted, 0.99)),
      maxMs: round3(this.filled ? sorted[sorted.length - 1]! : 0),
    };
  }
}

/** Events per second over the last `windowMs`, from event timestamps (bounded by `maxEvents`). */
export class RateMeter {
  private readonly times: number[] = [];

  constructor(
    private readonly windowMs = 5000,
    private readonly maxEvents = 4096,
  ) {}

  add(atMs: number): void {
    this.times.push(atMs);
    if (this.times.length > this.maxEvents) this.times.shift();
  }

  perSecond(now: number): number {
    const cutoff = now - this.windowMs;
    while (this.times.length > 0 && this.times[0]! < cutoff) this.times.shift();
    if (this.times.length < 2) return this.times.length === 1 ? round3(1000 / this.windowMs) : 0;
    // Over the span actually covered, so a rate is right soon after start too.
    const span = Math.max(now - this.times[0]!, 1);
    return round3(((this.times.length - 1) * 1000) / Math.min(span, this.windowMs));
  }
}
