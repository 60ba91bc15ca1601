import type { RawImage } from '../../image/types.js';
import type { DecoderSpec, InputSpec, Manifest } from '../../models/manifest.js';
import type { FidelityReport } from '../../optimize/evaluation/fidelity.js';
import { type ChildLimits, runLimitedChild } from './limited-child.js';
import type { DeployManifest } from './manifest.js';

/** How a model is fed and read: what validation and the health comparison need of its manifest. */
export interface ModelView {
  task: Manifest['task'];
  /** The variant's effective input spec. */
  input: InputSpec;
  decoder: DecoderSpec;
  labels: string[];
}

export interface ValidationResult {
  outputs: Array<{ name: string; shape: number[] }>;
  loadMs: number;
  inferenceMs: number;
  /** What the model ran on: a frame preprocessed as its manifest says, or zeros (no manifest view). */
  input: 'frame' | 'zeros';
  /** Decoded with the manifest's decoder (frame runs): detections or top classes found. */
  decoded?: { detections?: number; topClass?: string };
  peakRssMB?: number | undefined;
}

export interface ValidateOptions extends Omit<ChildLimits, 'what'> {
  /** A recent camera frame (or a sample image) to run on; with `model`, preprocessed per its input spec. */
  frame?: RawImage | undefined;
  model?: ModelView | undefined;
}

/**
 * Loads and runs the candidate once in a child process under time and memory limits: on a frame
 * preprocessed as the model's manifest says (zeros without one), decoded with its decoder. A
 * model that crashes, hangs or balloons onnxruntime kills the child (reported), never the agent.
 */
export async function validateInChild(file: string, options: ValidateOptions): Promise<ValidationResult> {
  const { frame, model, ...limits } = options;
  const job = { type: 'validate', file, ...(frame && model ? { frame, model } : {}) };
  const r = await runLimitedChild<ValidationResult>(job, { ...limits, what: 'validation' });
  return { ...r.result, peakRssMB: r.peakRssMB };
}

export interface CompareSide {
  file: string;
  model: ModelView;
}

/**
 * Runs the previous and the new variant on the same frames in a child process (same limits) and
 * compares the new one's outputs with the previous one's (top-1 agreement or mAP@0.5, detection
 * counts): the inference module's own pre- and post-processing, the evaluator's metrics.
 */
export async function compareInChild(
  previous: CompareSide,
  next: CompareSide,
  frames: readonly RawImage[],
  limits: Omit<ChildLimits, 'what'>,
): Promise<FidelityReport> {
  const r = await runLimitedChild<FidelityReport>(
    { type: 'compare', previous, next, frames },
    { ...limits, what: 'comparison' },
  );
  return r.result;
}

/** Output names and shapes against the manifest (null = any size). Pure; undefined when they match. */
export function outputMismatch(
  actual: ValidationResult['outputs'],
  expected: DeployManifest['outputs'],
): string | undefined {
  for (const e of expected) {
    const a = actual.find((o) => o.name === e.name);
    if (!a) return `output "${e.name}" missing (model has ${actual.map((o) => o.name).join(', ')})`;
    const fits = a.shape.length === e.shape.length && e.shape.every((d, i) => d === null || d === a.shape[i]);
    if (!fits)
      return `output "${e.name}" has shape [${a.shape.join(', ')}], manifest expects [${e.shape.map((d) => d ?? '?').join(', ')}]`;
  }
  return undefined;
}

/** The outputs a decoder reads; each must be among the model's outputs. Pure. */
export function decoderOutputs(decoder: DecoderSpec): string[] {
  switch (decoder.type) {
    case 'ultraface':
      return [decoder.scoresOutput, decoder.boxesOutput];
    default:
      return [decoder.output];
  }
}
