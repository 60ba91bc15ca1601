import type { InferenceResult } from './types.js';

/** The documented JSON of one inference: `edge-agent infer --json` and `POST /api/infer` print it. */
export function inferenceJson(r: InferenceResult) {
  return {
    model: r.model,
    variant: r.variant,
    task: r.task,
    image: { width: r.imageWidth, height: r.imageHeight },
    timings: r.timings,
    ...(r.task === 'detection' ? { detections: r.detections ?? [] } : { classes: r.classes ?? [] }),
  };
}

export type InferenceJson = ReturnType<typeof inferenceJson>;
