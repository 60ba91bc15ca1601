/** An image as interleaved 8-bit pixels (RGB, 3 channels) — what cameras deliver and sharp decodes to. */
export interface RawImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3;
}

/** Maps model-input pixel coordinates back to the original image: orig = (p - offset) / scale. */
export interface InverseTransform {
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
  imageWidth: number;
  imageHeight: number;
}

export interface Detection {
  label: string;
  classId: number;
  score: number;
  /** [x1, y1, x2, y2] in original-image pixels. */
  box: [number, number, number, number];
}

export interface ClassScore {
  label: string;
  classId: number;
  score: number;
}

export interface StageTimings {
  preprocessMs: number;
  inferenceMs: number;
  postprocessMs: number;
}

export interface InferenceResult {
  model: string;
  variant: string;
  task: 'classification' | 'detection';
  timings: StageTimings;
  imageWidth: number;
  imageHeight: number;
  detections?: Detection[];
  classes?: ClassScore[];
}
