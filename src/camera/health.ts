import type { CameraState, ConnectionQuality } from './types.js';

/** Pure decisions of camera supervision: backoff, state from timings, connection quality. */

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Growth per consecutive failure. */
  factor: number;
  /** ± fraction of the delay drawn at random, so a fleet does not reconnect in lockstep. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** Delay before restart number `failures` (1 = first restart after a failure); `random` in [0, 1). */
export function backoffDelayMs(failures: number, policy: BackoffPolicy, random: number): number {
  const n = Math.max(1, failures);
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** (n - 1));
  const spread = base * policy.jitter * (2 * random - 1);
  return Math.max(0, Math.round(Math.min(policy.maxMs * (1 + policy.jitter), base + spread)));
}

export interface StateInputs {
  now: number;
  /** When iteration (capture) began. */
  startedAtMs: number;
  lastFrameAtMs: number | undefined;
  stallTimeoutMs: number;
  offlineAfterMs: number;
  /** The capture failed (crash, stall) since the last frame: restarting, not yet delivering. */
  failedSinceLastFrame: boolean;
}

/**
 * The state a live source is in: `online` while frames arrive within the stall timeout,
 * `starting` before the first frame, `stalled` once frames stop, `offline` after
 * `offlineAfterMs` without any frame (counted from the start when none ever came). A capture
 * that failed is `stalled` until a frame arrives again (no flapping back to `starting`).
 */
export function cameraState(s: StateInputs): Exclude<CameraState, 'stopped'> {
  const reference = s.lastFrameAtMs ?? s.startedAtMs;
  const silentMs = s.now - reference;
  if (silentMs >= s.offlineAfterMs) return 'offline';
  if (s.failedSinceLastFrame) return 'stalled';
  if (s.lastFrameAtMs === undefined) return 'starting';
  return silentMs >= s.stallTimeoutMs ? 'stalled' : 'online';
}

/**
 * Connection quality in Frigate's words, from the last hour's reconnects and stalls:
 * excellent (none), fair (up to 3), poor (more), unusable (offline, or 10 and more).
 */
export function connectionQuality(
  state: CameraState,
  reconnectsLastHour: number,
  stallsLastHour: number,
): ConnectionQuality {
  if (state === 'offline') return 'unusable';
  const events = reconnectsLastHour + stallsLastHour;
  if (events >= 10) return 'unusable';
  if (events > 3) return 'poor';
  if (events > 0) return 'fair';
  return 'excellent';
}

/** Counts events in a sliding window (an hour by default); memory is bounded by `maxEvents`. */
export class WindowCounter {
  private readonly times: number[] = [];
  constructor(
    private readonly windowMs = 3_600_000,
    private readonly maxEvents = 10_000,
  ) {}

  add(atMs: number): void {
    this.times.push(atMs);
    if (this.times.length > this.maxEvents) this.times.splice(0, this.times.length - this.maxEvents);
  }

  count(now: number): number {
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < this.times.length && this.times[drop]! <= cutoff) drop++;
    if (drop > 0) this.times.splice(0, drop);
    return this.times.length;
  }
}
