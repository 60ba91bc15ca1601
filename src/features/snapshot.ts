import type { Frame } from '../camera/types.js';
import type { Clock } from '../clock.js';
import { EdgeAgentError } from '../errors.js';
import { defineCommand } from '../fleet/router.js';
import { annotateFrame } from '../pipeline/annotate.js';
import type { FrameResult } from '../pipeline/types.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';
import { need } from './feature.js';
import { copyOfContent, nextFrames, type ResultStream } from './frames.js';

export interface SnapshotImage {
  jpeg: Buffer;
  width: number;
  height: number;
  capturedAtMs?: number;
  [key: string]: unknown;
}

export interface SnapshotOptions {
  quality: number;
  annotate: boolean;
}

/** What takes the picture (PipelineCamera on the agent); absent → "not available". */
export interface SnapshotCamera {
  snapshot(options: SnapshotOptions): Promise<SnapshotImage>;
  start?(): void;
  stop?(): void;
}

/** `snapshot` over MQTT: the latest frame as JPEG (base64), annotated with the results. */
export function snapshotFeature(deps: { camera?: SnapshotCamera | undefined }): Feature {
  return {
    name: 'snapshot',
    commands: {
      snapshot: defineCommand({
        summary: 'The latest frame as JPEG (base64), annotated with the results',
        params: z.strictObject({
          quality: z._default(z.int().check(z.minimum(10), z.maximum(100)), 80),
          annotate: z._default(z.boolean(), true),
        }),
        mutates: false,
        run: async (options: SnapshotOptions) => {
          const camera = need(deps.camera, 'snapshot (pipeline frame capture)');
          const { jpeg, ...meta } = await camera.snapshot(options);
          return { ...meta, mime: 'image/jpeg', bytes: jpeg.length, jpegBase64: jpeg.toString('base64') };
        },
      }),
    },
    start: () => deps.camera?.start?.(),
    stop: () => deps.camera?.stop?.(),
  };
}

/**
 * Pictures from the running pipeline: a fresh frame when one comes within 3 s, else the newest
 * inferred one (duty cycle, stalled camera), asked of the pipeline — pixels cross from the
 * pipeline worker only for a snapshot.
 */
export class PipelineCamera implements SnapshotCamera {
  constructor(
    private readonly deps: { pipeline: Pick<ResultStream, 'onFrame' | 'latestFrame'>; clock: Clock },
  ) {}

  async snapshot(options: SnapshotOptions): Promise<SnapshotImage> {
    let pair: { result: FrameResult; frame: Frame } | undefined;
    try {
      const [next] = await nextFrames(this.deps.pipeline, 1, 0, 3000, this.deps.clock, copyOfContent);
      if (next?.image)
        pair = { result: next.result, frame: { ...next.frame, ...next.image, prepared: undefined } };
    } catch {
      pair = await this.deps.pipeline.latestFrame();
    }
    if (!pair || pair.frame.data.byteLength === 0) throw new EdgeAgentError('no frame has been captured yet');
    const result = options.annotate ? pair.result : { ...pair.result, detections: [], classes: [] };
    const jpeg = await annotateFrame(pair.frame, result, { quality: options.quality, maxWidth: 1920 });
    return {
      jpeg,
      width: pair.frame.prepared?.sourceWidth ?? pair.frame.width,
      height: pair.frame.prepared?.sourceHeight ?? pair.frame.height,
      capturedAtMs: pair.result.capturedAtMs,
      model: pair.result.model,
      variant: pair.result.variant,
    };
  }
}
