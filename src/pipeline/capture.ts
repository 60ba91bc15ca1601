import { linkSignals } from '../camera/signals.js';
import type { Frame, FrameSource } from '../camera/types.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { RateMeter } from './stats.js';

export interface CaptureCounters {
  /** Frames received from the source. */
  captured: number;
  /** Frames replaced by a newer one while inference was busy (the pipeline could not keep up). */
  dropped: number;
  /** Frames replaced while the pipeline waited for its next due time (pacing, by design). */
  skipped: number;
  /** Frames older than the age limit when their turn came. */
  stale: number;
}

/** What `take` gives: the newest frame, the end of the source, or nothing (woken up early). */
export type Take = { frame: Frame } | { ended: true } | { interrupted: true };

/**
 * The capture side of the pipeline: reads the source in the background and keeps only the newest
 * frame (one slot — never a queue), counting what it replaces. The worker `take`s from it.
 */
export class FrameSlot {
  private readonly counted: CaptureCounters = { captured: 0, dropped: 0, skipped: 0, stale: 0 };
  readonly rate = new RateMeter();
  private frame: Frame | undefined;
  private waiter: ((take: Take) => void) | undefined;
  private session: { controller: AbortController; done: Promise<void> } | undefined;
  private ended = false;
  /** The error that ended capture, if it failed. */
  error: unknown;
  /** Non-live sources (files as fast as possible): wait for the slot to empty, drop nothing. */
  readonly lossless: boolean;
  private spaceWaiter: (() => void) | undefined;

  /**
   * @param consumerBusy whether the pipeline is working on a frame: replacing the waiting frame
   *   then means it could not keep up (dropped) rather than that it waited by design (skipped).
   * @param discard gets every frame the slot lets go of without handing it out (replaced, stale,
   *   a duty cycle's warm-up frames), so its memory can be freed at once.
   */
  constructor(
    private readonly source: FrameSource,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly consumerBusy: () => boolean = () => false,
    private readonly discard: (frame: Frame) => void = () => undefined,
  ) {
    this.lossless = !source.live;
  }

  /** What capture counted so far (a copy). */
  get counters(): CaptureCounters {
    return { ...this.counted };
  }

  get hasEnded(): boolean {
    return this.ended;
  }

  get capturing(): boolean {
    return this.session !== undefined;
  }

  /** Sequence number of the frame waiting in the slot, if any. */
  get waitingSeq(): number | undefined {
    return this.frame?.seq;
  }

  /** Starts reading the source continuously (no-op when already reading). */
  startContinuous(signal: AbortSignal): void {
    if (this.session || this.ended) return;
    const controller = new AbortController();
    const stop = linkSignals(signal, controller.signal);
    const done = (async () => {
      try {
        for await (const frame of this.source.frames(stop.signal)) {
          if (this.lossless) await this.space(stop.signal);
          this.put(frame);
        }
        // The source ended by itself (a file played once) unless we stopped it.
        if (!stop.signal.aborted) this.end();
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'camera source failed');
        this.error = err;
        this.end();
      } finally {
        stop.dispose();
      }
    })();
    this.session = { controller, done };
  }

  /** Stops continuous reading (duty cycle releasing the camera, or shutdown). */
  async stopContinuous(): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    session.controller.abort();
    await session.done;
  }

  /**
   * Starts the camera, skips `warmupFrames` (exposure settling after a start), returns the next
   * frame and stops the camera again — the duty-cycle path that saves power between frames.
   */
  async captureOne(signal: AbortSignal, warmupFrames: number): Promise<Take> {
    let seen = 0;
    try {
      for await (const frame of this.source.frames(signal)) {
        this.counted.captured++;
        this.rate.add(this.clock.now());
        if (seen++ < warmupFrames) {
          this.counted.skipped++;
          this.discard(frame);
          continue;
        }
        return { frame };
      }
    } catch (err) {
      this.error = err;
      this.end();
      throw err;
    }
    if (signal.aborted) return { interrupted: true };
    this.end();
    return { ended: true };
  }

  /** Resolves once the slot is empty (lossless mode) or capture is being stopped. */
  private async space(signal: AbortSignal): Promise<void> {
    while (this.frame && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener('abort', done);
          this.spaceWaiter = undefined;
          resolve();
        };
        this.spaceWaiter = done;
        signal.addEventListener('abort', done, { once: true });
      });
    }
  }

  private put(frame: Frame): void {
    this.counted.captured++;
    this.rate.add(this.clock.now());
    if (this.frame) {
      if (this.consumerBusy()) this.counted.dropped++;
      else this.counted.skipped++;
      this.discard(this.frame);
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      this.frame = undefined;
      w({ frame });
      return;
    }
    this.frame = frame;
  }

  private end(): void {
    this.ended = true;
    this.session = undefined;
    this.wake({ ended: true });
  }

  /** Resolves a waiting `take` with `interrupted` (pacing changed, shutdown). */
  interrupt(): void {
    this.wake({ interrupted: true });
  }

  private wake(take: Take): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.(take);
  }

  /**
   * The newest frame not older than `maxAgeMs`, waiting for one if needed. Older frames are
   * discarded (counted as stale) — a frozen camera's last frame is never inferred. Resolves
   * `interrupted` when `signal` fires (shutdown) or `interrupt()` is called.
   */
  take(maxAgeMs: number, signal: AbortSignal): Promise<Take> {
    const frame = this.frame;
    this.frame = undefined;
    this.spaceWaiter?.();
    if (frame) {
      // The age limit is for cameras; a file read as fast as possible sets its own pace.
      if (this.lossless || this.clock.now() - frame.timestampMs <= maxAgeMs)
        return Promise.resolve({ frame });
      this.counted.stale++;
      this.discard(frame);
    }
    if (this.ended) return Promise.resolve({ ended: true });
    if (signal.aborted) return Promise.resolve({ interrupted: true });
    if (this.waiter) return Promise.reject(new Error('FrameSlot supports one waiting taker'));
    return new Promise((resolve) => {
      const onAbort = () => this.interrupt();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiter = (take) => {
        signal.removeEventListener('abort', onAbort);
        resolve(take);
      };
    });
  }
}
