import type { Pacing } from './pacing-schema.js';

// The schema (zod) lives in pacing-schema.ts: this module is loaded by the pipeline worker, which
// validates nothing and keeps zod out of its isolate.
export type { Pacing, PacingInput } from './pacing-schema.js';

/** Below this interval a camera restart (and its exposure warm-up) costs more than it saves. */
export const RELEASE_CAMERA_MIN_INTERVAL_S = 5;

/** Minimum time between the starts of two inferences; 0 = no limit. */
export function minIntervalMs(p: Pacing): number {
  if (p.mode === 'duty-cycle') return p.intervalS * 1000;
  return p.fps ? 1000 / p.fps : 0;
}

/** When the next inference may start, given when the last one started. */
export function nextDueMs(p: Pacing, lastStartMs: number | undefined): number {
  const interval = minIntervalMs(p);
  if (lastStartMs === undefined || interval === 0) return Number.NEGATIVE_INFINITY;
  return lastStartMs + interval;
}

/** Whether capture stops between frames (duty cycle with a long enough interval). */
export function releasesCamera(p: Pacing): boolean {
  return p.mode === 'duty-cycle' && p.releaseCamera && p.intervalS >= RELEASE_CAMERA_MIN_INTERVAL_S;
}

/**
 * Whether the next frame is prepared while the current one is inferred: only when inference runs
 * back to back; with a rate limit the next frame should be the newest at its due time instead.
 */
export function overlapsPreparation(p: Pacing): boolean {
  return p.mode === 'continuous' && p.fps === undefined;
}

export function describePacing(p: Pacing): string {
  if (p.mode === 'continuous')
    return p.fps ? `continuous at up to ${p.fps} fps` : 'continuous, as fast as possible';
  return `duty cycle: 1 frame every ${p.intervalS} s${releasesCamera(p) ? ', camera released in between' : ''}`;
}
