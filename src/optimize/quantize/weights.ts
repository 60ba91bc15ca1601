import { DerivationError } from '../errors.js';
import { GraphIndex, removeUnused, topoSort, uniqueNamer } from '../onnx/graph.js';
import { DataType, type ModelProto } from '../onnx/onnx-io.js';
import { COMPUTE_OPS, WeightQuantizer, weightAxis } from './qdq.js';

export interface WeightOnlyReport {
  quantizedWeights: number;
}

/**
 * Weight-only int8: per-channel symmetric int8 weights behind DequantizeLinear, activations stay
 * float. About 4× smaller weights, no calibration. In place; needs opset ≥ 13 (per-channel axis).
 */
export function quantizeWeightsOnly(model: ModelProto, reduceRange = false): WeightOnlyReport {
  const graph = model.graph!;
  const index = new GraphIndex(graph);
  const weights = new WeightQuantizer(model, uniqueNamer(graph), reduceRange);
  const seen = new Set<string>();
  for (const n of graph.node ?? []) {
    if (!COMPUTE_OPS.has(n.opType ?? '')) continue;
    const w = n.input?.[1] ?? '';
    const t = index.initializers.get(w);
    if (!t || t.dataType !== DataType.FLOAT) continue;
    n.input![1] = weights.quantize(w, weightAxis(n)).dequantized;
    seen.add(w);
  }
  if (seen.size === 0)
    throw new DerivationError('int8-weights: no Conv, Gemm or MatMul with float32 weights to quantize');
  graph.node = [...(graph.node ?? []), ...weights.nodes];
  topoSort(graph);
  removeUnused(graph);
  return { quantizedWeights: seen.size };
}
