import type { GraphOptimization } from '../inference/session.js';
import type { InputSpec } from '../models/manifest.js';

/** Messages between the tuner and its measuring child (measure-child.ts). */

export interface OpenJob {
  path: string;
  sha256: string;
  bytes: number;
  inputName: string;
  /**
   * The input tensor (every run feeds it as is), or the frame the child reads itself (the first of
   * `framesDir`, or of the bundled samples): decoding and resizing load sharp, whose ~20 MB must stay
   * out of the agent. A frame is scaled once to the canvas a capture process delivers for this
   * input, and every run then prepares it into the tensor as the pipeline does per frame
   * (`TensorPreparer`): a variant that normalises in JavaScript pays for it in its figures.
   */
  input: { data: Float32Array | Uint8Array; dims: number[] } | { frame: FrameInput };
  executionProvider: string;
  threads: number;
  graphOptimization: GraphOptimization;
  warmupRuns: number;
}

/** A real frame to measure on, prepared in the child for the candidate's input spec. */
export interface FrameInput {
  framesDir?: string | undefined;
  spec: InputSpec;
}

export interface FidelityJob {
  modelsDir: string;
  dataDir?: string | undefined;
  model: string;
  variant: string;
  /** Compared with this variant (the model's common fidelity reference); the variant's own when absent. */
  reference?: string | undefined;
  framesDir?: string | undefined;
  limit: number;
}

export type ParentMessage =
  | { type: 'open'; job: OpenJob }
  | { type: 'burst'; runs: number; budgetMs: number }
  | { type: 'finish' }
  | { type: 'fidelity'; job: FidelityJob };

export interface Ready {
  type: 'ready';
  sessionCreateMs: number;
  warmupMs: number;
  /** How each run prepares its frame (the pipeline's `PreparePath`); absent for a given tensor. */
  preparePath?: string;
  /** The child runs without V8's optimising compilers (`--lite-mode`), as a lean agent's worker does. */
  lean?: boolean;
}
export interface BurstResult {
  type: 'burst';
  /** Per run: preparing the frame (when a frame was given) and `session.run`. */
  latenciesMs: number[];
  /** Of those, the time spent preparing frames (0 for a given tensor). */
  prepareMs: number;
  cpuMs: number;
  wallMs: number;
}
export interface Finished {
  type: 'finished';
  peakRssBytes: number;
  baselineRssBytes: number;
}
export interface FidelityAnswer {
  type: 'fidelity';
  fidelity: number;
  metric: string;
  frames: number;
}

/** Sent unasked when a job starts (after onnxruntime is loaded): the parent's memory watch counts from it. */
export interface BaselineNote {
  type: 'baseline';
  rssBytes: number;
}

export type ChildAnswer =
  | Ready
  | BurstResult
  | Finished
  | FidelityAnswer
  | { type: 'error'; name: string; message: string };
