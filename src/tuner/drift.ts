import { percentile } from '../telemetry/percentiles.js';

/** Which way the live latency left the tuned figure. */
export type Drift = 'up' | 'down';

/**
 * Sustained latency drift: the live p95 of the inference time above the tuned p95 (the session's
 * share of it, controller.ts) × `factor` for a whole window, not a spike — or below the tuned p95 ÷
 * `factor` for a whole window (the machine is quieter than when it was tuned: a tune made during a
 * busy minute). The live p95 is taken over the last fifth of the window and must stay beyond the
 * limit at every check for `windowMs`: a 3 s spike in a 10 s window is above for 3 + 2 s and does not
 * trigger; a busy neighbour that stays does, and so does one that has left. Pure: times are passed in.
 *
 * It sees every inference of the agent (tens per second), so it allocates nothing per sample: the
 * samples live in a ring of typed arrays, and the p95 is checked at most every `windowMs / 100`
 * (one sort of a reused buffer). An array of `{t, ms}` objects and a sorted copy per frame were the
 * main thread's largest source of old-generation garbage (docs/memory.md, "Seventh round").
 */
export class DriftDetector {
  private times = new Float64Array(256);
  private values = new Float64Array(256);
  private scratch = new Float64Array(256);
  /** Ring: `count` samples from `head` on. */
  private head = 0;
  private count = 0;
  private aboveSince: number | undefined;
  private belowSince: number | undefined;
  private nextCheckMs = Number.NEGATIVE_INFINITY;
  private triggeredP95: number | undefined;

  constructor(
    private readonly options: { factor: number; windowMs: number; minSamples?: number },
    private tunedP95Ms: number | undefined,
  ) {}

  /** The figure the live latency is compared with (the chosen candidate's measured p95). */
  setBaseline(p95Ms: number | undefined): void {
    this.tunedP95Ms = p95Ms;
    this.reset();
  }

  get baseline(): number | undefined {
    return this.tunedP95Ms;
  }

  /**
   * Adds one live inference time; `up` once the p95 over the last fifth of the window has stayed
   * above the tuned p95 × factor for the whole window, `down` once it has stayed below the tuned p95
   * ÷ factor as long (then it resets, so one drift gives one trigger); otherwise undefined.
   */
  add(nowMs: number, inferenceMs: number): Drift | undefined {
    if (this.tunedP95Ms === undefined || !Number.isFinite(inferenceMs)) return undefined;
    this.push(nowMs, inferenceMs);
    const from = nowMs - this.options.windowMs / 5;
    while (this.count > 0 && this.times[this.head]! < from) {
      this.head = (this.head + 1) % this.times.length;
      this.count--;
    }
    if (this.count < (this.options.minSamples ?? 3) || nowMs < this.nextCheckMs) return undefined;
    this.nextCheckMs = nowMs + this.options.windowMs / 100;
    const p95 = this.p95()!;
    const above = p95 > this.tunedP95Ms * this.options.factor;
    const below = p95 < this.tunedP95Ms / this.options.factor;
    this.aboveSince = above ? (this.aboveSince ?? nowMs) : undefined;
    this.belowSince = below ? (this.belowSince ?? nowMs) : undefined;
    const since = this.aboveSince ?? this.belowSince;
    if (since === undefined || nowMs - since < this.options.windowMs) return undefined;
    this.reset();
    this.triggeredP95 = p95;
    return above ? 'up' : 'down';
  }

  /** The live p95 (ms) over the last fifth of the window; right after a trigger, the one that triggered. */
  livePercentile95(): number | undefined {
    return this.count === 0 ? this.triggeredP95 : this.p95();
  }

  private push(t: number, ms: number): void {
    if (this.count === this.times.length) this.grow();
    const at = (this.head + this.count) % this.times.length;
    this.times[at] = t;
    this.values[at] = ms;
    this.count++;
  }

  /** Twice the room, the samples kept in order from index 0. */
  private grow(): void {
    const n = this.times.length;
    const times = new Float64Array(n * 2);
    const values = new Float64Array(n * 2);
    for (let i = 0; i < this.count; i++) {
      times[i] = this.times[(this.head + i) % n]!;
      values[i] = this.values[(this.head + i) % n]!;
    }
    this.times = times;
    this.values = values;
    this.scratch = new Float64Array(n * 2);
    this.head = 0;
  }

  private p95(): number | undefined {
    const n = this.times.length;
    for (let i = 0; i < this.count; i++) this.scratch[i] = this.values[(this.head + i) % n]!;
    return percentile(this.scratch.subarray(0, this.count).sort(), 95);
  }

  private reset(): void {
    this.head = 0;
    this.count = 0;
    this.aboveSince = undefined;
    this.belowSince = undefined;
    this.nextCheckMs = Number.NEGATIVE_INFINITY;
    this.triggeredP95 = undefined;
  }
}
