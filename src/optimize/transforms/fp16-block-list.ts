/**
 * Ops kept in float32 (Casts around them): their ONNX schema has no float16, or onnxruntime's CPU
 * provider has no kernel and its automatic casting does not cover them.
 */
export const DEFAULT_FP16_BLOCK_LIST = [
  'NonMaxSuppression',
  'RoiAlign',
  'TopK',
  'Range',
  'RandomNormal',
  'RandomUniform',
  'CumSum',
  'Einsum',
];
