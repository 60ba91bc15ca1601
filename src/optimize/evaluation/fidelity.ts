import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { errorMessage } from '../../errors.js';
import type { RawImage } from '../../image/types.js';
import { softmax } from '../../inference/decoders/softmax.js';
import { type Decoded, type OutputTensor, postprocess } from '../../inference/postprocess.js';
import type { ModelInput } from '../../inference/preprocess.js';
import type { DecoderSpec, InputSpec } from '../../models/manifest.js';
import { DerivationError, throwIfAborted } from '../errors.js';
import { sessionFor } from '../onnx/runtime.js';
import type { ProgressFn } from '../progress.js';
import { prepareInputs } from './frames.js';
import { type Box, classificationAgreement, detectionMatch, outputDifference } from './metrics.js';

export interface FidelityReport {
  task: 'classification' | 'detection';
  /** The scalar a fidelity floor is compared with (int8-static's `floor`): top-1 agreement or mAP@0.5 vs the reference. */
  fidelity: number;
  metric: 'top1-agreement' | 'map50-vs-reference';
  frames: number;
  classification?: { top1Agreement: number; top5Overlap: number; meanKl: number };
  detection?: {
    map50: number;
    precision: number;
    recall: number;
    referenceDetections: number;
    variantDetections: number;
  };
  output: { maxAbsDiff: number; meanAbsDiff: number };
  /** Against labels, where the frames carry them (a COCO annotation file beside the images). */
  accuracy?: { metric: string; reference: number; variant: number; frames: number };
}

export interface EvalSet {
  task: 'classification' | 'detection';
  decoder: DecoderSpec;
  labels: readonly string[];
  images: readonly RawImage[];
  names: readonly string[];
  /** Ground-truth boxes per frame (image pixels), when a labelled set is used. */
  truth?: Box[][];
}

/** What one variant produced on the evaluation frames. */
export interface VariantOutputs {
  /** All outputs of each frame, concatenated in output-name order. */
  raw: Float32Array[];
  decoded: Decoded[];
  /** Softmax distributions (classification). */
  probabilities: Float64Array[];
}

export interface RunOptions {
  threads?: number;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
  stage?: 'fidelity' | 'reference' | 'sensitivity';
}

/** Preprocessed inputs per input spec, so the reference and variants share the work. */
export class InputCache {
  private readonly cache = new Map<string, ModelInput[]>();
  constructor(private readonly images: readonly RawImage[]) {}
  async get(spec: InputSpec): Promise<ModelInput[]> {
    const key = JSON.stringify(spec);
    let inputs = this.cache.get(key);
    if (!inputs) {
      inputs = await prepareInputs(this.images, spec);
      this.cache.set(key, inputs);
    }
    return inputs;
  }
}

/** Runs a model (bytes) over the evaluation frames with the inference module's pre/post-processing. */
export async function runVariant(
  bytes: Uint8Array,
  spec: InputSpec,
  set: EvalSet,
  inputs: InputCache,
  options: RunOptions = {},
): Promise<VariantOutputs> {
  const prepared = await inputs.get(spec);
  const session = await sessionFor(bytes, { threads: options.threads });
  const result: VariantOutputs = { raw: [], decoded: [], probabilities: [] };
  try {
    const outputNames = [...session.outputNames].sort();
    for (const [i, input] of prepared.entries()) {
      throwIfAborted(options.signal, 'fidelity evaluation');
      const tensor = new ort.Tensor(
        input.data instanceof Float32Array ? 'float32' : 'uint8',
        input.data,
        input.dims,
      );
      const results = await session.run({ [spec.name]: tensor });
      const outputs: Record<string, OutputTensor> = {};
      for (const name of outputNames) {
        const value = results[name]!;
        if (value.type !== 'float32')
          throw new DerivationError(`output "${name}" is ${value.type}, expected float32`);
        outputs[name] = { data: value.data as Float32Array, dims: value.dims };
      }
      const total = outputNames.reduce((n, name) => n + outputs[name]!.data.length, 0);
      const raw = new Float32Array(total);
      let offset = 0;
      for (const name of outputNames) {
        raw.set(outputs[name]!.data, offset);
        offset += outputs[name]!.data.length;
      }
      result.raw.push(raw);
      result.decoded.push(postprocess(set.decoder, outputs, spec, input.inverse, set.labels));
      if (set.decoder.type === 'softmax') {
        const logits = outputs[set.decoder.output]!.data;
        result.probabilities.push(set.decoder.applySoftmax ? softmax(logits) : Float64Array.from(logits));
      }
      options.onProgress?.({ stage: options.stage ?? 'fidelity', done: i + 1, total: prepared.length });
    }
  } finally {
    await session.release();
  }
  return result;
}

function boxes(d: Decoded): Box[] {
  return 'detections' in d
    ? d.detections.map((x) => ({ box: x.box, score: x.score, classId: x.classId }))
    : [];
}

/** Compares a variant's outputs with the reference's on the same frames. Pure. */
export function compare(set: EvalSet, reference: VariantOutputs, variant: VariantOutputs): FidelityReport {
  const diff = outputDifference(reference.raw, variant.raw);
  const frames = reference.raw.length;
  const output = { maxAbsDiff: diff.maxAbs, meanAbsDiff: diff.meanAbs };
  if (set.task === 'classification') {
    const c = classificationAgreement(reference.probabilities, variant.probabilities);
    return {
      task: 'classification',
      fidelity: c.top1Agreement,
      metric: 'top1-agreement',
      frames,
      classification: c,
      output,
    };
  }
  const refBoxes = reference.decoded.map(boxes);
  const varBoxes = variant.decoded.map(boxes);
  const m = detectionMatch(varBoxes, refBoxes, 0.5);
  const report: FidelityReport = {
    task: 'detection',
    fidelity: m.map,
    metric: 'map50-vs-reference',
    frames,
    detection: {
      map50: m.map,
      precision: m.precision,
      recall: m.recall,
      referenceDetections: refBoxes.reduce((n, f) => n + f.length, 0),
      variantDetections: varBoxes.reduce((n, f) => n + f.length, 0),
    },
    output,
  };
  if (set.truth) {
    const labelled = set.truth.map((_, i) => i).filter((i) => set.truth![i]!.length > 0);
    const pick = (all: Box[][]) => labelled.map((i) => all[i]!);
    report.accuracy = {
      metric: 'mAP@0.5 vs COCO annotations',
      reference: detectionMatch(pick(refBoxes), pick(set.truth), 0.5).map,
      variant: detectionMatch(pick(varBoxes), pick(set.truth), 0.5).map,
      frames: labelled.length,
    };
  }
  return report;
}

interface CocoFile {
  images: Array<{ id: number; file_name: string }>;
  annotations: Array<{
    image_id: number;
    category_id: number;
    bbox: [number, number, number, number];
    iscrowd?: number;
  }>;
  categories: Array<{ id: number; name: string }>;
}

/**
 * Ground truth from a COCO annotation file (`instances_*.json`) beside the frames, for 80-class
 * detectors: category ids in ascending order map to the model's class indices (the usual COCO-80
 * order). Undefined when the folder has none or the model is not an 80-class detector.
 */
export function findCocoTruth(
  dir: string | undefined,
  names: readonly string[],
  classCount: number,
): Box[][] | undefined {
  if (!dir || classCount !== 80 || !existsSync(dir)) return undefined;
  const file = readdirSync(dir).find((f) => /^instances_.*\.json$/.test(f));
  if (!file) return undefined;
  let coco: CocoFile;
  try {
    coco = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as CocoFile;
  } catch (err) {
    throw new DerivationError(`${path.join(dir, file)}: unreadable COCO annotations (${errorMessage(err)})`, {
      cause: err,
    });
  }
  const categories = coco.categories.map((c) => c.id).sort((a, b) => a - b);
  if (categories.length !== 80) return undefined;
  const classOf = new Map(categories.map((id, i) => [id, i]));
  const imageId = new Map(coco.images.map((im) => [im.file_name, im.id]));
  return names.map((name) => {
    const id = imageId.get(name);
    if (id === undefined) return [];
    return coco.annotations
      .filter((a) => a.image_id === id && !a.iscrowd && classOf.has(a.category_id))
      .map((a) => ({
        box: [a.bbox[0], a.bbox[1], a.bbox[0] + a.bbox[2], a.bbox[1] + a.bbox[3]] as const,
        score: 1,
        classId: classOf.get(a.category_id)!,
      }));
  });
}
