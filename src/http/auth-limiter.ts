/**
 * Wrong-token throttling per client address: after `maxFailures` wrong tokens within `windowMs`
 * the address gets 429 until the window has passed, so a 16-character token cannot be guessed
 * by brute force. Memory is bounded (`maxClients` addresses, oldest forgotten first). Pure apart
 * from the injected clock.
 */
export interface AuthLimiterOptions {
  maxFailures: number;
  windowMs: number;
  now: () => number;
  maxClients?: number;
}

export class AuthFailureLimiter {
  /** Failure times per client address, oldest first (insertion order of the map = age). */
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly options: AuthLimiterOptions) {}

  /** Milliseconds until this client may try again; 0 when it may now. */
  retryAfterMs(client: string): number {
    const times = this.recent(client);
    if (times.length < this.options.maxFailures) return 0;
    return Math.max(1, times[0]! + this.options.windowMs - this.options.now());
  }

  /** Records a wrong token; returns the failures of this client within the window. */
  fail(client: string): number {
    const times = [...this.recent(client), this.options.now()].slice(-this.options.maxFailures);
    this.failures.delete(client);
    this.failures.set(client, times);
    const max = this.options.maxClients ?? 10_000;
    while (this.failures.size > max) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
    return times.length;
  }

  private recent(client: string): number[] {
    const since = this.options.now() - this.options.windowMs;
    const times = (this.failures.get(client) ?? []).filter((t) => t > since);
    if (times.length === 0) this.failures.delete(client);
    return times;
  }
}
