import { type Clock, systemClock } from '../clock.js';
import type { Logger } from '../log.js';
import { generatedSource } from './generated.js';
import { SourceMonitor } from './monitor.js';
import type { FrameSource } from './types.js';

export interface SyntheticOptions {
  width: number;
  height: number;
  fps: number;
  /** False: as fast as the consumer takes them. */
  realtime?: boolean;
  /** Stop after this many frames (tests, benchmarks); endless when absent. */
  frames?: number;
  signal?: AbortSignal;
  clock?: Clock;
  log?: Logger;
}

const BARS: ReadonlyArray<readonly [number, number, number]> = [
  [192, 192, 192],
  [192, 192, 0],
  [0, 192, 192],
  [0, 192, 0],
  [192, 0, 192],
  [192, 0, 0],
  [0, 0, 192],
];

/** Colour bars over a grey ramp: the static part of the pattern, drawn once. */
export function drawBackground(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  const barsHeight = Math.floor((height * 2) / 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      if (y < barsHeight) {
        const bar = BARS[Math.min(BARS.length - 1, Math.floor((x * BARS.length) / width))]!;
        data[i] = bar[0];
        data[i + 1] = bar[1];
        data[i + 2] = bar[2];
      } else {
        const v = Math.round((x / Math.max(1, width - 1)) * 255);
        data[i] = v;
        data[i + 1] = v;
        data[i + 2] = v;
      }
    }
  }
  return data;
}

/** Draws frame `n` of the pattern: the background with a white square bouncing across it. */
export function drawFrame(background: Uint8Array, width: number, height: number, n: number): Uint8Array {
  const data = new Uint8Array(background);
  const size = Math.max(4, Math.floor(Math.min(width, height) / 6));
  const spanX = Math.max(1, width - size);
  const spanY = Math.max(1, height - size);
  const px = (n * 7) % (2 * spanX);
  const py = (n * 5) % (2 * spanY);
  const x0 = px < spanX ? px : 2 * spanX - px;
  const y0 = py < spanY ? py : 2 * spanY - py;
  for (let y = y0; y < Math.min(height, y0 + size); y++) {
    data.fill(255, (y * width + x0) * 3, (y * width + Math.min(width, x0 + size)) * 3);
  }
  return data;
}

/** `synthetic` — a generated test pattern at the configured size and rate; needs no camera or tool. */
export function syntheticSource(options: SyntheticOptions): FrameSource {
  const clock = options.clock ?? systemClock;
  const description = `synthetic ${options.width}x${options.height}`;
  let n = 0;
  return generatedSource({
    description,
    monitor: new SourceMonitor(description, clock, options.log),
    clock,
    pacing: options,
    starting: 'pattern generator started',
    async *produce(signal, pace, emit) {
      const background = drawBackground(options.width, options.height);
      // The pattern goes on where it stopped when capture restarts (duty cycle).
      while (options.frames === undefined || n < options.frames) {
        const i = n++;
        if (signal.aborted) return;
        await pace();
        yield emit({
          data: drawFrame(background, options.width, options.height, i),
          width: options.width,
          height: options.height,
          channels: 3,
          timestampMs: clock.now(),
          seq: i,
          origin: 'synthetic',
        });
      }
    },
  });
}
