/** On-device model optimisation: derivations and fidelity. It never chooses between variants (the tuner does). */

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
} from './methods.js';
export { inspectModel, type ModelInspection } from './onnx/inspect.js';
export { decodeModel, encodeModel } from './onnx/onnx-io.js';
export { probeShapes, probeTensors } from './onnx/runtime.js';
export { type Progress, type ProgressFn, terminalProgress } from './progress.js';
export { cleanModel } from './transforms/clean.js';
