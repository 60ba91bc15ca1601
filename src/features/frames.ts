import type { Frame } from '../camera/types.js';
import type { Clock } from '../clock.js';
import { EdgeAgentError } from '../errors.js';
import type { RawImage } from '../image/types.js';
import { contentImage } from '../pipeline/prepare.js';
import type { FrameResult, ResultStream } from '../pipeline/types.js';

export type { ResultStream } from '../pipeline/types.js';

export interface TakenFrame {
  result: FrameResult;
  frame: Frame;
  image: RawImage | undefined;
}

/**
 * Resolves with the next `count` inferred frames (results and pixels), taken at least
 * `spacingMs` apart, or rejects after `timeoutMs`.
 */
export function nextFrames(
  pipeline: Pick<ResultStream, 'onFrame'>,
  count: number,
  spacingMs: number,
  timeoutMs: number,
  clock: Clock,
  transform: (result: FrameResult, frame: Frame) => RawImage | undefined = () => undefined,
): Promise<TakenFrame[]> {
  return new Promise((resolve, reject) => {
    const taken: TakenFrame[] = [];
    let lastAt = Number.NEGATIVE_INFINITY;
    const timer = setTimeout(() => {
      off();
      reject(
        new EdgeAgentError(`only ${taken.length} of ${count} frames arrived within ${timeoutMs / 1000} s`),
      );
    }, timeoutMs);
    // Pixels cross from the pipeline worker only while this listener is subscribed.
    const off = pipeline.onFrame((result, frame) => {
      const now = clock.now();
      if (now - lastAt < spacingMs) return;
      lastAt = now;
      // Copy what is needed now: frame buffers are reused once the listener returns.
      taken.push({ result, frame, image: transform(result, frame) });
      if (taken.length >= count) {
        clearTimeout(timer);
        off();
        resolve(taken);
      }
    });
  });
}

/** The camera image of a frame as an RGB copy that outlives the frame buffer. */
export function copyOfContent(_result: FrameResult, frame: Frame): RawImage {
  const { image } = contentImage(frame);
  return image.data === frame.data ? { ...image, data: Uint8Array.from(image.data) } : image;
}
