import type { Clock } from '../clock.js';
import { isAbortError } from '../clock.js';
import type { SourceMonitor } from './monitor.js';
import { linkSignals } from './signals.js';
import type { CameraStateChange, CameraStatus, Frame, FrameSource } from './types.js';

export interface GeneratedSourceOptions {
  description: string;
  monitor: SourceMonitor;
  clock: Clock;
  /** The caller's own options: rate, `realtime: false` for as fast as consumed, a stop signal. */
  pacing: { fps: number; realtime?: boolean; signal?: AbortSignal };
  /** The reason shown with the `starting` state. */
  starting: string;
  /**
   * Yields the frames; `pace()` waits for the next frame's slot (a no-op when not realtime) and
   * `emit(frame)` records it with the monitor. State carried across restarts lives in the caller.
   */
  produce(
    signal: AbortSignal,
    pace: () => Promise<void>,
    emit: (frame: Frame) => Frame,
  ): AsyncIterable<Frame>;
}

/**
 * A source produced in-process (an image folder, the test pattern), with no capture process to
 * supervise: paced to `fps`, stopped by either signal, and reporting its state like the others.
 */
export function generatedSource(options: GeneratedSourceOptions): FrameSource {
  const { monitor, clock, pacing } = options;
  const intervalMs = 1000 / pacing.fps;
  return {
    description: options.description,
    status: (): CameraStatus => monitor.status(),
    onStateChange: (listener: (change: CameraStateChange) => void) => monitor.onStateChange(listener),
    live: pacing.realtime !== false,
    setTarget: () => false,
    [Symbol.asyncIterator]() {
      return this.frames()[Symbol.asyncIterator]();
    },
    async *frames(stop?: AbortSignal) {
      const linked = linkSignals(pacing.signal, stop);
      const signal = linked.signal;
      monitor.setState('starting', options.starting);
      let next = clock.now();
      const pace = async () => {
        if (pacing.realtime === false) return;
        const wait = next - clock.now();
        if (wait > 0) await clock.sleep(wait, signal);
        next = Math.max(next + intervalMs, clock.now());
      };
      const emit = (frame: Frame) => {
        monitor.frame(frame.timestampMs, frame.width, frame.height);
        monitor.setState('online', 'frames arriving');
        return frame;
      };
      try {
        for await (const frame of options.produce(signal, pace, emit)) {
          if (signal.aborted) return;
          yield frame;
        }
      } catch (err) {
        if (!isAbortError(err)) throw err;
      } finally {
        linked.dispose();
        monitor.setState('stopped', signal.aborted ? 'shutdown' : 'capture ended');
      }
    },
  };
}
