import { decodeImage } from '../image/decode.js';
import type { ImageLimits } from '../image/limits.js';
import type { RawImage } from '../image/types.js';
import type { DecoderSpec, InputSpec } from '../models/manifest.js';
import { type OutputTensor, postprocess } from './postprocess.js';
import { type ModelInput, preprocess } from './preprocess.js';
import type { InferenceResult } from './types.js';

/** What a model is to the code around it: its name, variant, task, input, decoder and labels. */
export interface ModelDescription {
  readonly name: string;
  readonly variant: { readonly id: string };
  readonly task: 'classification' | 'detection';
  readonly input: InputSpec;
  readonly decoder: DecoderSpec;
  readonly labels: readonly string[];
}

/** What one image's inference needs of a model, whether its session runs here or in a worker. */
export interface ImageModel extends ModelDescription {
  run(input: Pick<ModelInput, 'data' | 'dims'>): Promise<Record<string, OutputTensor>>;
}

const ms = (v: number) => Math.round(v * 1000) / 1000;

/** Preprocess → run → decode one RGB image, with per-stage timings. */
export async function inferImage(model: ImageModel, image: RawImage): Promise<InferenceResult> {
  const t0 = performance.now();
  const prepared = await preprocess(image, model.input);
  const t1 = performance.now();
  const outputs = await model.run(prepared);
  const t2 = performance.now();
  const decoded = postprocess(model.decoder, outputs, model.input, prepared.inverse, model.labels);
  const t3 = performance.now();
  return {
    model: model.name,
    variant: model.variant.id,
    task: model.task,
    timings: { preprocessMs: ms(t1 - t0), inferenceMs: ms(t2 - t1), postprocessMs: ms(t3 - t2) },
    imageWidth: image.width,
    imageHeight: image.height,
    ...decoded,
  };
}

/**
 * Decodes an encoded image (or a file path) and infers; decode time counts as preprocessing.
 * `limits` bounds what may be decoded (the default pixel limit when absent).
 */
export async function inferEncodedImage(
  model: ImageModel,
  input: Buffer | string,
  limits?: ImageLimits,
): Promise<InferenceResult> {
  const t0 = performance.now();
  const image = await decodeImage(input, limits);
  const decodeMs = performance.now() - t0;
  const result = await inferImage(model, image);
  result.timings.preprocessMs = ms(result.timings.preprocessMs + decodeMs);
  return result;
}
