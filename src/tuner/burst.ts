import type { Clock } from '../clock.js';
import type { Pacing } from '../pipeline/pacing.js';
import type { BurstGate } from './measure.js';
import { MeasurementError } from './measure-process.js';

/** What the burst gate needs of the pipeline: its pacing, and its results (to know a frame ended). */
export interface PausablePipeline {
  readonly pacing: Pacing;
  /** `quiet`: the pipeline logs the change at debug (bursts come every few seconds). */
  setPacing(pacing: Pacing, options?: { quiet?: boolean }): void;
  onResult(listener: () => void): () => void;
}

/** Pause and resume of a burst are logged at debug; the controller logs one summary per tune at info. */
const QUIET = { quiet: true } as const;

export interface BurstStats {
  bursts: number;
  pausedMs: number;
  longestPauseMs: number;
}

/**
 * Measuring beside the live pipeline would pollute both figures, so measurement runs in bursts
 * while inference is paused: the pipeline's pacing is set to a day-long duty cycle with the
 * camera kept open (the newest frame keeps arriving), the frame in flight finishes, the burst
 * runs, the old pacing comes back and the next inference takes the newest frame at once. Between
 * bursts the pipeline runs undisturbed for `gapMs`. A pacing change made by someone else during a
 * burst (set-fps) is kept, not overwritten.
 */
export function pipelineBurstGate(
  pipeline: PausablePipeline,
  options: { clock: Clock; gapMs: number; settleMs?: number; signal?: AbortSignal },
): { gate: BurstGate; stats: () => BurstStats } {
  const stats: BurstStats = { bursts: 0, pausedMs: 0, longestPauseMs: 0 };
  let chain: Promise<unknown> = Promise.resolve();
  let lastEnd = Number.NEGATIVE_INFINITY;
  const gate: BurstGate = <T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    const run = async () => {
      // Given up (the agent stopping): not after waiting out the gap, nor with the pipeline paused.
      const abandon = () => {
        if (signal?.aborted || options.signal?.aborted) throw new MeasurementError('measurement aborted');
      };
      abandon();
      const wait = lastEnd + options.gapMs - options.clock.now();
      const stop =
        signal && options.signal ? AbortSignal.any([signal, options.signal]) : (signal ?? options.signal);
      if (wait > 0) await options.clock.sleep(wait, stop).catch(() => undefined);
      abandon();
      const previous = pipeline.pacing;
      const pause: Pacing = { mode: 'duty-cycle', intervalS: 86_400, releaseCamera: false, warmupFrames: 0 };
      // The frame in flight (if any) finishes on its own: wait for its result, at most settleMs.
      const settled = new Promise<void>((resolve) => {
        const off = pipeline.onResult(() => {
          off();
          resolve();
        });
        setTimeout(() => {
          off();
          resolve();
        }, options.settleMs ?? 300).unref?.();
      });
      pipeline.setPacing(pause, QUIET);
      await settled;
      const started = options.clock.now();
      try {
        return await fn();
      } finally {
        if (pipeline.pacing === pause) pipeline.setPacing(previous, QUIET);
        lastEnd = options.clock.now();
        const paused = lastEnd - started;
        stats.bursts++;
        stats.pausedMs += paused;
        stats.longestPauseMs = Math.max(stats.longestPauseMs, paused);
      }
    };
    const next = chain.then(run, run);
    chain = next.catch(() => undefined);
    return next;
  };
  return { gate, stats: () => ({ ...stats }) };
}
