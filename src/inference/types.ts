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
