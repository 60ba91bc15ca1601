/** Windowed rates for the pipeline (latency windows and percentiles live in telemetry/percentiles.ts). */

const round3 = (v: number) => Math.round(v * 1000) / 1000;

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
