/**
 * Admission for heavy commands: at most `maxRunning` at once, at most `maxWaiting` queued behind
 * them (in arrival order); anything beyond is refused at once so the caller can answer `busy`.
 * Memory stays bounded under a flood and no request waits without a place in the line.
 */
export interface AdmissionLimits {
  maxRunning: number;
  maxWaiting: number;
}

export interface AdmissionStats {
  running: number;
  waiting: number;
  refused: number;
}

export class Admission {
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  private refused = 0;

  constructor(private readonly limits: AdmissionLimits) {}

  /**
   * A release function once a slot is free (immediately when one is), or `undefined` when the
   * queue is full. Call the release exactly once when the work is done.
   */
  acquire(): Promise<() => void> | undefined {
    if (this.running < this.limits.maxRunning) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiting.length >= this.limits.maxWaiting) {
      this.refused++;
      return undefined;
    }
    return new Promise((resolve) => {
      this.waiting.push(() => resolve(this.releaser()));
    });
  }

  stats(): AdmissionStats {
    return { running: this.running, waiting: this.waiting.length, refused: this.refused };
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      // The slot passes straight to the next in line; running stays the same.
      if (next) next();
      else this.running--;
    };
  }
}
