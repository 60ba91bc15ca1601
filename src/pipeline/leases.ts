import { type IntervalHistogram, monitorEventLoopDelay } from 'node:perf_hooks';

/** Counts who uses an object (a model during a swap) and tells when nobody does any more. */
export class Leases<T> {
  private readonly entries = new Map<T, { count: number; idle: Array<() => void> }>();

  take(item: T): void {
    const entry = this.entries.get(item) ?? { count: 0, idle: [] };
    entry.count++;
    this.entries.set(item, entry);
  }

  give(item: T): void {
    const entry = this.entries.get(item);
    if (!entry) return;
    entry.count--;
    if (entry.count > 0) return;
    this.entries.delete(item);
    for (const resolve of entry.idle) resolve();
  }

  /** Resolves once `item` has no users (at once when it has none). */
  idle(item: T): Promise<void> {
    const entry = this.entries.get(item);
    if (!entry) return Promise.resolve();
    return new Promise((resolve) => entry.idle.push(resolve));
  }
}

const RESOLUTION_MS = 5;
const round = (v: number) => Math.round(v * 1000) / 1000;

/**
 * Event-loop delay (what a timer waits beyond its due time) over the last minute, from Node's
 * histogram; the sampling interval itself is subtracted.
 */
export class LagMonitor {
  private histogram: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;
  private previous = { p50Ms: 0, p99Ms: 0, maxMs: 0 };

  start(): void {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    this.histogram.enable();
    this.timer = setInterval(() => {
      this.previous = this.snapshot();
      this.histogram?.reset();
    }, 60_000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.histogram?.disable();
  }

  snapshot(): { p50Ms: number; p99Ms: number; maxMs: number } {
    const h = this.histogram;
    if (!h || h.count === 0) return this.previous;
    const lag = (ns: number) => round(Math.max(0, ns / 1e6 - RESOLUTION_MS));
    return { p50Ms: lag(h.percentile(50)), p99Ms: lag(h.percentile(99)), maxMs: lag(h.max) };
  }
}
