import type { ModelInput } from '../../inference/preprocess.js';
import { type Catalog, type CatalogVariant, type ModelEntry, readLabels } from '../../models/catalog.js';
import { readVerified } from '../../models/integrity.js';
import { effectiveInputSpec, type InputSpec } from '../../models/manifest.js';
import { DerivationError } from '../errors.js';
import type { ProgressFn } from '../progress.js';
import {
  compare,
  type EvalSet,
  type FidelityReport,
  findCocoTruth,
  InputCache,
  runVariant,
  type VariantOutputs,
} from './fidelity.js';
import { type FrameSource, loadFrames } from './frames.js';

export interface EvaluatorOptions {
  frames?: FrameSource;
  /** At most this many frames, evenly spread (default 32). */
  limit?: number;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

/**
 * Fidelity of candidate models against one reference variant on one frame set. The reference runs
 * once (lazily) and its outputs are kept; candidates run one session at a time.
 */
export class Evaluator {
  private referenceOutputs: VariantOutputs | undefined;

  private constructor(
    readonly set: EvalSet,
    readonly reference: CatalogVariant,
    private readonly referenceBytes: Uint8Array,
    readonly referenceSpec: InputSpec,
    private readonly inputs: InputCache,
    readonly framesDescription: string,
    private readonly options: EvaluatorOptions,
  ) {}

  static async create(
    entry: ModelEntry,
    reference: CatalogVariant,
    options: EvaluatorOptions,
  ): Promise<Evaluator> {
    const frames = await loadFrames(options.frames, {
      limit: options.limit ?? 32,
      signal: options.signal,
      onProgress: options.onProgress,
    });
    const labels = await readLabels(entry);
    const dir = options.frames && 'dir' in options.frames ? options.frames.dir : undefined;
    const truth =
      entry.manifest.task === 'detection' ? findCocoTruth(dir, frames.names, labels.length) : undefined;
    const set: EvalSet = {
      task: entry.manifest.task,
      decoder: entry.manifest.decoder,
      labels,
      images: frames.images,
      names: frames.names,
      ...(truth ? { truth } : {}),
    };
    const bytes = await readVerified(reference.path, reference.sha256, reference.bytes);
    const spec = effectiveInputSpec(entry.manifest.input, reference);
    return new Evaluator(
      set,
      reference,
      bytes,
      spec,
      new InputCache(frames.images),
      frames.description,
      options,
    );
  }

  /** The evaluation frames preprocessed for `spec` (cached: calibration on the same frames shares them). */
  inputsFor(spec: InputSpec): Promise<ModelInput[]> {
    return this.inputs.get(spec);
  }

  async evaluate(bytes: Uint8Array, spec: InputSpec): Promise<FidelityReport> {
    if (!this.referenceOutputs) {
      this.referenceOutputs = await runVariant(
        this.referenceBytes,
        this.referenceSpec,
        this.set,
        this.inputs,
        {
          ...this.runOptions(),
          stage: 'reference',
        },
      );
    }
    const outputs = await runVariant(bytes, spec, this.set, this.inputs, {
      ...this.runOptions(),
      stage: 'fidelity',
    });
    return compare(this.set, this.referenceOutputs, outputs);
  }

  /** Fidelity only, quietly (for the sensitivity search, which reports its own progress). */
  async fidelityOf(bytes: Uint8Array, spec: InputSpec): Promise<number> {
    const onProgress = this.options.onProgress;
    this.options.onProgress = undefined;
    try {
      return (await this.evaluate(bytes, spec)).fidelity;
    } finally {
      this.options.onProgress = onProgress;
    }
  }

  private runOptions() {
    return {
      threads: this.options.threads,
      signal: this.options.signal,
      onProgress: this.options.onProgress,
    };
  }
}

export interface MeasureFidelityOptions extends EvaluatorOptions {
  /** Reference variant id; the variant's own `reference` when absent. */
  reference?: string;
}

export interface FidelityResult extends FidelityReport {
  model: string;
  variant: string;
  reference: string;
  framesDescription: string;
}

/** Fidelity of a catalog variant against its reference (the `edge-agent fidelity` command). */
export async function measureFidelity(
  catalog: Catalog,
  modelName: string,
  variantId: string,
  options: MeasureFidelityOptions = {},
): Promise<FidelityResult> {
  const { model: entry, variant } = catalog.variant(modelName, variantId);
  const referenceId = options.reference ?? variant.reference;
  if (!referenceId) {
    throw new DerivationError(
      `variant "${variant.id}" of ${modelName} is a reference itself (no "reference" in its manifest entry); pass --reference ID`,
    );
  }
  const { variant: reference } = catalog.variant(modelName, referenceId);
  const evaluator = await Evaluator.create(entry, reference, options);
  const bytes = await readVerified(variant.path, variant.sha256, variant.bytes);
  const report = await evaluator.evaluate(bytes, effectiveInputSpec(entry.manifest.input, variant));
  return {
    model: modelName,
    variant: variant.id,
    reference: reference.id,
    framesDescription: evaluator.framesDescription,
    ...report,
  };
}
