import { z } from 'zod';
import { weakLazy } from '../weak-lazy.js';

/**
 * The model manifest (`models/<name>/manifest.json`, and for derived variants
 * `<dataDir>/models/<name>/manifest.json`). See DESIGN.md "The model manifest".
 */

function buildManifestSchemas() {
  const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
  const rgbTriple = z.tuple([z.number(), z.number(), z.number()]);

  const resizeSchema = z.discriminatedUnion('mode', [
    z.strictObject({
      mode: z.literal('letterbox'),
      /** Where the scaled image sits in the canvas; YOLOX puts it top-left. */
      align: z.enum(['top-left', 'center']).default('top-left'),
      padValue: z.number().min(0).max(255).default(114),
    }),
    z.strictObject({ mode: z.literal('stretch') }),
    z.strictObject({
      mode: z.literal('center-crop'),
      /** Resize so the short side is this long, then crop the input size from the centre. */
      shortSide: z.int().positive(),
    }),
  ]);

  const inputSpecSchema = z.strictObject({
    name: z.string().min(1),
    layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
    dtype: z.enum(['float32', 'uint8']).default('float32'),
    width: z.int().positive(),
    height: z.int().positive(),
    colorOrder: z.enum(['RGB', 'BGR']),
    resize: resizeSchema,
    /** value = (pixel * scale - mean[c]) / std[c], per channel in the model's colour order. */
    normalize: z
      .strictObject({
        scale: z.number().positive().default(1),
        mean: rgbTriple.default([0, 0, 0]),
        std: rgbTriple.default([1, 1, 1]),
      })
      .prefault({}),
  });

  /** Per-variant changes to the model's input spec (e.g. RFB-640 takes 640×480; a uint8-input variant). */
  const inputOverrideSchema = z.strictObject({
    name: z.string().min(1).optional(),
    layout: z.enum(['NCHW', 'NHWC']).optional(),
    dtype: z.enum(['float32', 'uint8']).optional(),
    width: z.int().positive().optional(),
    height: z.int().positive().optional(),
    colorOrder: z.enum(['RGB', 'BGR']).optional(),
    resize: resizeSchema.optional(),
    normalize: z.strictObject({ scale: z.number().positive(), mean: rgbTriple, std: rgbTriple }).optional(),
  });

  const decoderSchema = z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('yolox'),
      output: z.string().min(1),
      strides: z.array(z.int().positive()).min(1).default([8, 16, 32]),
      scoreThreshold: z.number().min(0).max(1).default(0.3),
      nmsIou: z.number().min(0).max(1).default(0.45),
      classAgnostic: z.boolean().default(true),
      maxDetections: z.int().positive().default(100),
    }),
    z.strictObject({
      type: z.literal('ultraface'),
      scoresOutput: z.string().min(1),
      boxesOutput: z.string().min(1),
      scoreThreshold: z.number().min(0).max(1).default(0.7),
      nmsIou: z.number().min(0).max(1).default(0.3),
      maxDetections: z.int().positive().default(200),
    }),
    z.strictObject({
      type: z.literal('softmax'),
      output: z.string().min(1),
      topK: z.int().positive().default(5),
      /** Set when the model already outputs probabilities. */
      applySoftmax: z.boolean().default(true),
    }),
  ]);

  const originSchema = z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('shipped') }),
    z.strictObject({
      kind: z.literal('derived'),
      method: z.string().min(1),
      params: z.record(z.string(), z.unknown()).default({}),
      sourceVariant: z.string().min(1),
      sourceSha256: sha256,
      createdAt: z.string().optional(),
      derivationMs: z.number().nonnegative().optional(),
    }),
  ]);

  const qualitySchema = z
    .strictObject({
      /** Agreement with the reference variant (top-1 agreement or mAP@0.5 vs reference), 0..1. */
      fidelity: z.number().min(0).max(1).optional(),
      /** Accuracy against labelled data where it exists, 0..1. */
      accuracy: z.number().min(0).max(1).optional(),
      metric: z.string().optional(),
      frames: z.int().nonnegative().optional(),
    })
    .passthrough();

  const variantSchema = z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-"'),
    file: z.string().min(1),
    sha256,
    bytes: z.int().positive(),
    precision: z.enum(['fp32', 'fp16', 'int8', 'mixed']),
    origin: originSchema,
    /** Variant this one is compared with for fidelity; null for the reference itself. */
    reference: z.string().nullable().default(null),
    quality: qualitySchema.optional(),
    input: inputOverrideSchema.optional(),
    parameterCount: z.int().nonnegative().optional(),
    flops: z.number().nonnegative().optional(),
    notes: z.string().optional(),
  });

  const manifestSchema = z.strictObject({
    $schema: z.string().optional(),
    name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
    task: z.enum(['classification', 'detection']),
    description: z.string().default(''),
    labels: z.string().min(1),
    license: z.string().min(1),
    source: z.string().min(1),
    input: inputSpecSchema,
    decoder: decoderSchema,
    defaultVariant: z.string().min(1),
    /**
     * The variant every variant's fidelity is measured against when the tuner chooses (the largest or
     * most accurate export): for families of separate exports (UltraFace slim-320 / RFB-320 /
     * RFB-640), each otherwise its own reference at fidelity 1. Absent: each variant's `reference`.
     */
    fidelityReference: z.string().min(1).optional(),
    variants: z.array(variantSchema).min(1),
  });

  /** A derived-variants manifest in the data directory: only adds variants to a bundled model. */
  const derivedManifestSchema = z.strictObject({
    name: z.string().min(1),
    variants: z.array(variantSchema),
  });
  return {
    resizeSchema,
    inputSpecSchema,
    inputOverrideSchema,
    decoderSchema,
    originSchema,
    qualitySchema,
    variantSchema,
    manifestSchema,
    derivedManifestSchema,
  };
}

/**
 * The manifests' schemas, built when a catalogue or manifest is read and collected after
 * (src/weak-lazy.ts), not held for the agent's life as module constants.
 */
export const manifestSchemas = weakLazy(buildManifestSchemas);
type Schemas = ReturnType<typeof buildManifestSchemas>;

export type ResizeSpec = z.infer<Schemas['resizeSchema']>;
export type InputSpec = z.infer<Schemas['inputSpecSchema']>;
export type DecoderSpec = z.infer<Schemas['decoderSchema']>;
export type VariantOrigin = z.infer<Schemas['originSchema']>;
export type Variant = z.infer<Schemas['variantSchema']>;
export type InputOverride = z.infer<Schemas['inputOverrideSchema']>;

/** The input spec a variant actually takes: the model's, with the variant's overrides applied. */
export function effectiveInputSpec(model: InputSpec, variant: Pick<Variant, 'input'>): InputSpec {
  const o = variant.input;
  if (!o) return model;
  const defined = Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  return { ...model, ...defined } as InputSpec;
}
export type Manifest = z.infer<Schemas['manifestSchema']>;
export type DerivedManifest = z.infer<Schemas['derivedManifestSchema']>;
