import { percentile } from './measure.js';

/**
 * Sustained latency drift: the live p95 of the inference time above the tuned p95 × `factor` for
 * a whole window, not a spike. The live p95 is taken over the last fifth of the window and must
 * stay above the limit at every check for `windowMs`: a 3 s spike in a 10 s window is above for
 * 3 + 2 s and does not trigger; a busy neighbour that stays does. Pure: times are passed in.
 */
export class DriftDetector {
  private samples: Array<{ t: number; ms: number }> = [];
  private aboveSince: number | undefined;

  constructor(
    private readonly options: { factor: number; windowMs: number; minSamples?: number },
    private tunedP95Ms: number | undefined,
  ) {}

  /** The figure the live latency is compared with (the chosen candidate's measured p95). */
  setBaseline(p95Ms: number | undefined): void {
    this.tunedP95Ms = p95Ms;
    this.samples = [];
    this.aboveSince = undefined;
  }

  get baseline(): number | undefined {
    return this.tunedP95Ms;
  }

  /**
   * Adds one live inference time; true once the p95 over the last window has stayed above the
   * limit for the whole window (then it resets, so one drift gives one trigger).
   */
  add(nowMs: number, inferenceMs: number): boolean {
    if (this.tunedP95Ms === undefined) return false;
    this.samples.push({ t: nowMs, ms: inferenceMs });
    const from = nowMs - this.options.windowMs / 5;
    while (this.samples.length > 0 && this.samples[0]!.t < from) this.samples.shift();
    if (this.samples.length < (this.options.minSamples ?? 3)) return false;
    const p95 = percentile(
      this.samples.map((s) => s.ms),
      95,
    );
    if (p95 <= this.tunedP95Ms * this.options.factor) {
      this.aboveSince = undefined;
      return false;
    }
    this.aboveSince ??= nowMs;
    if (nowMs - this.aboveSince >= this.options.windowMs) {
      this.aboveSince = undefined;
      this.samples = [];
      return true;
    }
    return false;
  }

  livePercentile95(): number | undefined {
    return this.samples.length === 0
      ? undefined
      : percentile(
          this.samples.map((s) => s.ms),
          95,
        );
  }
}
