/** On-device model optimisation: derivations and fidelity. It never chooses between variants (the tuner does). */
export { cleanModel } from './clean.js';
export { type DerivedVariant, type DeriveOptions, derive, optimizedKernels } from './derive.js';
export { AbortedError, DerivationError, OnnxFormatError } from './errors.js';
export {
  Evaluator,
  type FidelityResult,
  type MeasureFidelityOptions,
  measureFidelity,
} from './evaluation.js';
export type { FidelityReport } from './fidelity.js';
export { type FrameSource, loadFrames } from './frames.js';
export { inspectModel, type ModelInspection } from './inspect.js';
export {
  METHODS,
  type Method,
  type MethodParams,
  normalizeParams,
  parseMethod,
  variantIdFor,
} from './methods.js';
export { decodeModel, encodeModel } from './onnx-io.js';
export { type Progress, type ProgressFn, terminalProgress } from './progress.js';
export { probeShapes, probeTensors } from './runtime.js';
