import type { InputOverride, InputSpec, Variant } from '../../models/manifest.js';
import type * as z from '../../zod.js';
import type { Evaluator } from '../evaluation/evaluation.js';
import type { FrameSource } from '../evaluation/frames.js';
import type { ModelProto } from '../onnx/onnx-io.js';
import type { ProgressFn } from '../progress.js';

/** What `derive()` hands a method besides the graph: the source's input, frames, limits. */
export interface DerivationContext {
  /** The source variant's effective input spec. */
  sourceSpec: InputSpec;
  /** The source variant's own input override, if any. */
  sourceInput: InputOverride | undefined;
  /** Measures fidelity against the reference; its frames double as calibration frames. */
  evaluator: Evaluator;
  calibration: FrameSource;
  evaluation: FrameSource;
  evaluationLimit: number | undefined;
  threads: number | undefined;
  signal: AbortSignal | undefined;
  onProgress: ProgressFn | undefined;
}

/** What a method did to the graph; everything is optional (a lossless method may change nothing). */
export interface MethodOutcome {
  /** The result when the method built a new graph instead of editing the one it was given. */
  model?: ModelProto;
  /** Precision of the result; the source's when absent. */
  precision?: Variant['precision'];
  /** Method-specific report, merged after `clean`'s in the derivation's details. */
  details?: Record<string, unknown>;
  /** Parameters recorded in the manifest when they are more than the validated ones (e.g. layers kept float). */
  recordedParams?: Record<string, unknown>;
  /** A new input override (the variant takes another input than its source). */
  input?: InputOverride;
}

/**
 * A derivation method. Adding one: a file in this folder exporting `defineMethod({...})`, and its
 * entry in the list in `index.ts` (docs/optimization.md "How to add a derivation method").
 */
export interface DerivationMethod<Id extends string = string, P = unknown> {
  id: Id;
  /** One line for `edge-agent derive --help` and the docs. */
  summary: string;
  /** Validates and completes parameters; the same parameters must always name the same variant. */
  params: z.ZodMiniType<P>;
  /** The variant-id tag naming the method and its key parameters (`int8s-pct99.999-f0.9`). */
  tag(params: P): string;
  /** Applies the method to `graph` (already cleaned, node names unique); may edit it in place. */
  apply(graph: ModelProto, params: P, ctx: DerivationContext): Promise<MethodOutcome>;
}

/** Identity helper that keeps the literal id and the parameter type for the registry's types. */
export function defineMethod<const Id extends string, S extends z.ZodMiniType>(
  method: Omit<DerivationMethod<Id, z.output<S>>, 'params'> & { params: S },
): DerivationMethod<Id, z.output<S>> & { params: S } {
  return method as DerivationMethod<Id, z.output<S>> & { params: S };
}

/** Shortest decimal spelling for tags: 0.30000000004 → "0.3". */
export const fmt = (v: number) => String(Number(v.toFixed(4)));
