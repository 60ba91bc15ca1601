import { toImageBox } from '../image/geometry.js';
import type { InverseTransform } from '../image/types.js';
import type { DecoderSpec, InputSpec } from '../models/manifest.js';
import { nms } from './decoders/nms.js';
import { softmax, topK } from './decoders/softmax.js';
import { decodeUltraface } from './decoders/ultraface.js';
import { decodeYolox } from './decoders/yolox.js';
import type { ClassScore, Detection } from './types.js';

/** A model output as the decoders need it: flat float data and its shape. */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

export type Decoded = { detections: Detection[] } | { classes: ClassScore[] };

const round = (v: number, digits: number) => {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
};

function required(outputs: Record<string, OutputTensor>, name: string): OutputTensor {
  const t = outputs[name];
  if (!t) throw new Error(`model has no output "${name}" (outputs: ${Object.keys(outputs).join(', ')})`);
  return t;
}

/** Turns raw model outputs into detections (original-image pixels) or top-k classes, per the decoder spec. */
export function postprocess(
  decoder: DecoderSpec,
  outputs: Record<string, OutputTensor>,
  input: Pick<InputSpec, 'width' | 'height'>,
  inverse: InverseTransform,
  labels: readonly string[],
): Decoded {
  const label = (id: number) => labels[id] ?? `class ${id}`;
  switch (decoder.type) {
    case 'yolox': {
      const out = required(outputs, decoder.output);
      const rowLength = out.dims[out.dims.length - 1]!;
      const candidates = decodeYolox(out.data, rowLength, {
        inputWidth: input.width,
        inputHeight: input.height,
        strides: decoder.strides,
        scoreThreshold: decoder.scoreThreshold,
      });
      const kept = nms(candidates, decoder.nmsIou, decoder.classAgnostic, decoder.maxDetections);
      return { detections: kept.map((c) => toDetection(c, inverse, label(c.classId))) };
    }
    case 'ultraface': {
      const scores = required(outputs, decoder.scoresOutput);
      const boxes = required(outputs, decoder.boxesOutput);
      const candidates = decodeUltraface(
        scores.data,
        boxes.data,
        input.width,
        input.height,
        decoder.scoreThreshold,
      );
      const kept = nms(candidates, decoder.nmsIou, true, decoder.maxDetections);
      return { detections: kept.map((c) => toDetection(c, inverse, label(c.classId))) };
    }
    case 'softmax': {
      const out = required(outputs, decoder.output);
      const probs = decoder.applySoftmax ? softmax(out.data) : out.data;
      return {
        classes: topK(probs, decoder.topK).map((id) => ({
          label: label(id),
          classId: id,
          score: round(probs[id]!, 5),
        })),
      };
    }
  }
}

function toDetection(
  c: { x1: number; y1: number; x2: number; y2: number; score: number; classId: number },
  inverse: InverseTransform,
  label: string,
): Detection {
  const box = toImageBox(c.x1, c.y1, c.x2, c.y2, inverse).map((v) => round(v, 1)) as Detection['box'];
  return { label, classId: c.classId, score: round(c.score, 4), box };
}
