import { weakLazy } from '../weak-lazy.js';
import * as z from '../zod.js';

/**
 * The model manifest (`models/<name>/manifest.json`, and for derived variants
 * `<dataDir>/models/<name>/manifest.json`). See DESIGN.md "The model manifest".
 */

function buildManifestSchemas() {
  const sha256 = z.string().check(z.regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256'));
  const rgbTriple = z.tuple([z.number(), z.number(), z.number()]);

  const resizeSchema = z.discriminatedUnion('mode', [
    z.strictObject({
      mode: z.literal('letterbox'),
      /** Where the scaled image sits in the canvas; YOLOX puts it top-left. */
      align: z._default(z.enum(['top-left', 'center']), 'top-left'),
      padValue: z._default(z.number().check(z.minimum(0), z.maximum(255)), 114),
    }),
    z.strictObject({ mode: z.literal('stretch') }),
    z.strictObject({
      mode: z.literal('center-crop'),
      /** Resize so the short side is this long, then crop the input size from the centre. */
      shortSide: z.int().check(z.positive()),
    }),
  ]);

  const inputSpecSchema = z.strictObject({
    name: z.string().check(z.minLength(1)),
    layout: z._default(z.enum(['NCHW', 'NHWC']), 'NCHW'),
    dtype: z._default(z.enum(['float32', 'uint8']), 'float32'),
    width: z.int().check(z.positive()),
    height: z.int().check(z.positive()),
    colorOrder: z.enum(['RGB', 'BGR']),
    resize: resizeSchema,
    /** value = (pixel * scale - mean[c]) / std[c], per channel in the model's colour order. */
    normalize: z.prefault(
      z.strictObject({
        scale: z._default(z.number().check(z.positive()), 1),
        mean: z._default(rgbTriple, [0, 0, 0]),
        std: z._default(rgbTriple, [1, 1, 1]),
      }),
      {},
    ),
  });

  /** Per-variant changes to the model's input spec (e.g. RFB-640 takes 640×480; a uint8-input variant). */
  const inputOverrideSchema = z.strictObject({
    name: z.optional(z.string().check(z.minLength(1))),
    layout: z.optional(z.enum(['NCHW', 'NHWC'])),
    dtype: z.optional(z.enum(['float32', 'uint8'])),
    width: z.optional(z.int().check(z.positive())),
    height: z.optional(z.int().check(z.positive())),
    colorOrder: z.optional(z.enum(['RGB', 'BGR'])),
    resize: z.optional(resizeSchema),
    normalize: z.optional(
      z.strictObject({ scale: z.number().check(z.positive()), mean: rgbTriple, std: rgbTriple }),
    ),
  });

  const decoderSchema = z.discriminatedUnion('type', [
    z.strictObject({
      type: z.literal('yolox'),
      output: z.string().check(z.minLength(1)),
      strides: z._default(z.array(z.int().check(z.positive())).check(z.minLength(1)), [8, 16, 32]),
      scoreThreshold: z._default(z.number().check(z.minimum(0), z.maximum(1)), 0.3),
      nmsIou: z._default(z.number().check(z.minimum(0), z.maximum(1)), 0.45),
      classAgnostic: z._default(z.boolean(), true),
      maxDetections: z._default(z.int().check(z.positive()), 100),
    }),
    z.strictObject({
      type: z.literal('ultraface'),
      scoresOutput: z.string().check(z.minLength(1)),
      boxesOutput: z.string().check(z.minLength(1)),
      scoreThreshold: z._default(z.number().check(z.minimum(0), z.maximum(1)), 0.7),
      nmsIou: z._default(z.number().check(z.minimum(0), z.maximum(1)), 0.3),
      maxDetections: z._default(z.int().check(z.positive()), 200),
    }),
    z.strictObject({
      type: z.literal('softmax'),
      output: z.string().check(z.minLength(1)),
      topK: z._default(z.int().check(z.positive()), 5),
      /** Set when the model already outputs probabilities. */
      applySoftmax: z._default(z.boolean(), true),
    }),
  ]);

  const originSchema = z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('shipped') }),
    z.strictObject({
      kind: z.literal('derived'),
      method: z.string().check(z.minLength(1)),
      params: z._default(z.record(z.string(), z.unknown()), {}),
      sourceVariant: z.string().check(z.minLength(1)),
      sourceSha256: sha256,
      createdAt: z.optional(z.string()),
      derivationMs: z.optional(z.number().check(z.nonnegative())),
    }),
  ]);

  const qualitySchema = z.catchall(
    z.strictObject({
      /** Agreement with the reference variant (top-1 agreement or mAP@0.5 vs reference), 0..1. */
      fidelity: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
      /** Accuracy against labelled data where it exists, 0..1. */
      accuracy: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
      metric: z.optional(z.string()),
      frames: z.optional(z.int().check(z.nonnegative())),
    }),
    z.unknown(),
  );

  const variantSchema = z.strictObject({
    id: z.string().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" or "-"')),
    file: z.string().check(z.minLength(1)),
    sha256,
    bytes: z.int().check(z.positive()),
    precision: z.enum(['fp32', 'fp16', 'int8', 'mixed']),
    origin: originSchema,
    /** Variant this one is compared with for fidelity; null for the reference itself. */
    reference: z._default(z.nullable(z.string()), null),
    quality: z.optional(qualitySchema),
    input: z.optional(inputOverrideSchema),
    parameterCount: z.optional(z.int().check(z.nonnegative())),
    flops: z.optional(z.number().check(z.nonnegative())),
    notes: z.optional(z.string()),
  });

  const manifestSchema = z.strictObject({
    $schema: z.optional(z.string()),
    name: z.string().check(z.regex(/^[A-Za-z0-9._-]{1,64}$/)),
    task: z.enum(['classification', 'detection']),
    description: z._default(z.string(), ''),
    labels: z.string().check(z.minLength(1)),
    license: z.string().check(z.minLength(1)),
    source: z.string().check(z.minLength(1)),
    input: inputSpecSchema,
    decoder: decoderSchema,
    defaultVariant: z.string().check(z.minLength(1)),
    /**
     * The variant every variant's fidelity is measured against when the tuner chooses (the largest or
     * most accurate export): for families of separate exports (UltraFace slim-320 / RFB-320 /
     * RFB-640), each otherwise its own reference at fidelity 1. Absent: each variant's `reference`.
     */
    fidelityReference: z.optional(z.string().check(z.minLength(1))),
    variants: z.array(variantSchema).check(z.minLength(1)),
  });

  /** A derived-variants manifest in the data directory: only adds variants to a bundled model. */
  const derivedManifestSchema = z.strictObject({
    name: z.string().check(z.minLength(1)),
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
