/**
 * On-device model optimisation: derivations (methods/), their fidelity against the reference
 * (evaluation/), ONNX graph I/O (onnx/), graph transforms (transforms/), int8 quantization
 * (quantize/) and the child process the agent derives in (process/). It never chooses between
 * variants: choosing belongs to src/tuner/ (DESIGN.md "Choosing a variant").
 */

export { type DerivedVariant, type DeriveOptions, derive, optimizedKernels } from './derive.js';
export { AbortedError, DerivationError, OnnxFormatError } from './errors.js';
export {
  Evaluator,
  type FidelityResult,
  type MeasureFidelityOptions,
  measureFidelity,
} from './evaluation/evaluation.js';
export type { FidelityReport } from './evaluation/fidelity.js';
export { type FrameSource, loadFrames } from './evaluation/frames.js';
export {
  METHODS,
  type Method,
  type MethodParams,
  normalizeParams,
  parseMethod,
  variantIdFor,
} from './methods/index.js';
export { inspectModel, type ModelInspection } from './onnx/inspect.js';
export { decodeModel, encodeModel } from './onnx/onnx-io.js';
export { probeShapes, probeTensors } from './onnx/runtime.js';
export { type Progress, type ProgressFn, terminalProgress } from './progress.js';
export { cleanModel } from './transforms/clean.js';
