/**
 * Change detectors with hysteresis, pure and synchronous: fed one value per sample, they answer
 * with the change to announce, if any. A state must hold for some samples (debounce) or cross back
 * past a band (hysteresis) before the opposite change is announced, so a value that wobbles
 * around a threshold does not flap.
 */

/** A discrete value (power source) that must be seen `confirmSamples` times in a row before it counts. */
export class DebouncedValue<T> {
  private current: T | undefined;
  private candidate: T | undefined;
  private seen = 0;
  constructor(private readonly confirmSamples: number) {}

  /** The new value when it just became confirmed (not on the first sample, which sets the baseline). */
  update(value: T): { from: T; to: T } | undefined {
    if (this.current === undefined) {
      this.current = value;
      return undefined;
    }
    if (value === this.current) {
      this.candidate = undefined;
      this.seen = 0;
      return undefined;
    }
    if (value !== this.candidate) {
      this.candidate = value;
      this.seen = 0;
    }
    this.seen++;
    if (this.seen < this.confirmSamples) return undefined;
    const from = this.current;
    this.current = value;
    this.candidate = undefined;
    this.seen = 0;
    return { from, to: value };
  }

  get value(): T | undefined {
    return this.current;
  }
}

/** A boolean that turns on after `onSamples` true samples in a row and off after `offSamples` false ones. */
export class DebouncedFlag {
  private state = false;
  private streak = 0;
  constructor(
    private readonly onSamples: number,
    private readonly offSamples: number,
  ) {}

  update(value: boolean): boolean | undefined {
    if (value === this.state) {
      this.streak = 0;
      return undefined;
    }
    this.streak++;
    if (this.streak < (value ? this.onSamples : this.offSamples)) return undefined;
    this.state = value;
    this.streak = 0;
    return value;
  }

  get active(): boolean {
    return this.state;
  }
}

export interface ThresholdCrossing {
  thresholdPercent: number;
  direction: 'below' | 'above';
}

/**
 * Battery thresholds (e.g. 50/20/10 %): `below` when the level drops under a threshold, `above`
 * only once it is back at threshold + hysteresis. The first reading sets the state silently.
 */
export class ThresholdTracker {
  private below = new Map<number, boolean>();
  private initialised = false;
  constructor(
    private readonly thresholds: readonly number[],
    private readonly hysteresis: number,
  ) {}

  update(percent: number): ThresholdCrossing[] {
    const out: ThresholdCrossing[] = [];
    for (const t of this.thresholds) {
      const wasBelow = this.below.get(t) ?? false;
      if (!this.initialised) {
        this.below.set(t, percent < t);
        continue;
      }
      if (!wasBelow && percent < t) {
        this.below.set(t, true);
        out.push({ thresholdPercent: t, direction: 'below' });
      } else if (wasBelow && percent >= t + this.hysteresis) {
        this.below.set(t, false);
        out.push({ thresholdPercent: t, direction: 'above' });
      }
    }
    this.initialised = true;
    // Several thresholds crossed at once are reported highest first when falling, lowest first when rising.
    return out.sort((a, b) =>
      a.direction === 'below'
        ? b.thresholdPercent - a.thresholdPercent
        : a.thresholdPercent - b.thresholdPercent,
    );
  }

  /** The lowest threshold the level is currently below, if any. */
  lowestBelow(): number | undefined {
    const below = this.thresholds.filter((t) => this.below.get(t));
    return below.length ? Math.min(...below) : undefined;
  }
}

/** Memory pressure: on below `enterPercent` available, off only above `exitPercent`. */
export class BandTracker {
  private state = false;
  constructor(
    private readonly enterBelow: number,
    private readonly exitAbove: number,
  ) {
    if (exitAbove < enterBelow)
      throw new RangeError(`exit level ${exitAbove} must not be below enter level ${enterBelow}`);
  }

  update(value: number): boolean | undefined {
    if (!this.state && value < this.enterBelow) {
      this.state = true;
      return true;
    }
    if (this.state && value > this.exitAbove) {
      this.state = false;
      return false;
    }
    return undefined;
  }

  get active(): boolean {
    return this.state;
  }
}
