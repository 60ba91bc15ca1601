import * as ort from 'onnxruntime-node';
import { ModelLoadError } from '../errors.js';
import type { ImageLimits } from '../image/limits.js';
import type { RawImage } from '../image/types.js';
import type { Logger } from '../log.js';
import type { Catalog, CatalogVariant, ModelEntry } from '../models/catalog.js';
import { readLabels } from '../models/catalog.js';
import { readVerified } from '../models/integrity.js';
import { effectiveInputSpec, type InputSpec } from '../models/manifest.js';
import { float16ToFloat32 } from './float16.mjs';
import { inferEncodedImage, inferImage } from './infer-image.js';
import { LoadedVariant } from './loaded-variant.js';
import type { OutputTensor } from './postprocess.js';
import type { ModelInput } from './preprocess.js';
import { type ExecutionProvider, openSession, type SessionOptions } from './session.js';
import type { InferenceResult } from './types.js';

export interface LoadModelOptions {
  catalog: Catalog;
  model: string;
  /** Variant id; the manifest's default when absent. */
  variant?: string;
  session?: SessionOptions;
  log?: Logger;
}

/**
 * One loaded variant: a verified ONNX file in an onnxruntime session plus the model's pre- and
 * post-processing. `infer` takes RGB pixels and returns decoded results with per-stage timings.
 */
export class InferenceModel extends LoadedVariant {
  private constructor(
    entry: ModelEntry,
    variant: CatalogVariant,
    input: InputSpec,
    labels: readonly string[],
    private readonly session: ort.InferenceSession,
    executionProvider: ExecutionProvider,
    sessionCreateMs: number,
  ) {
    super(entry, variant, input, labels, executionProvider, sessionCreateMs);
  }

  static async load(options: LoadModelOptions): Promise<InferenceModel> {
    const { model: entry, variant } = options.catalog.variant(options.model, options.variant);
    const bytes = await readVerified(variant.path, variant.sha256, variant.bytes);
    const labels = await readLabels(entry);
    const opened = await openSession(bytes, options.session, options.log);
    const input = effectiveInputSpec(entry.manifest.input, variant);
    if (!opened.session.inputNames.includes(input.name)) {
      await opened.session.release();
      throw new ModelLoadError(
        `${variant.path}: manifest input "${input.name}" is not a model input (${opened.session.inputNames.join(', ')})`,
      );
    }
    options.log?.debug(
      {
        model: entry.manifest.name,
        variant: variant.id,
        executionProvider: opened.executionProvider,
        createMs: opened.createMs,
      },
      'model loaded',
    );
    return new InferenceModel(
      entry,
      variant,
      input,
      labels,
      opened.session,
      opened.executionProvider,
      opened.createMs,
    );
  }

  /** Runs the session on a prepared input tensor and returns float32 outputs by name. */
  async run(modelInput: Pick<ModelInput, 'data' | 'dims'>): Promise<Record<string, OutputTensor>> {
    const type = modelInput.data instanceof Float32Array ? 'float32' : 'uint8';
    const tensor = new ort.Tensor(type, modelInput.data, modelInput.dims);
    const results = await this.session.run({ [this.input.name]: tensor });
    const outputs: Record<string, OutputTensor> = {};
    for (const [name, value] of Object.entries(results)) {
      outputs[name] = { data: toFloat32(value), dims: value.dims };
      value.dispose();
    }
    return outputs;
  }

  infer(image: RawImage): Promise<InferenceResult> {
    return inferImage(this, image);
  }

  /** Decodes an encoded image (or a file path) and infers; decode time counts as preprocessing. */
  inferEncoded(input: Buffer | string, limits?: ImageLimits): Promise<InferenceResult> {
    return inferEncodedImage(this, input, limits);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}

function toFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return float16ToFloat32(t.data as Uint16Array);
  throw new ModelLoadError(
    `model output of type ${t.type} is not supported by the decoders (float32/float16 only)`,
  );
}
