import { DerivationError } from '../errors.js';
import { attrInt, GraphIndex } from '../onnx/graph.js';
import { DataType, type ModelProto } from '../onnx/onnx-io.js';
import { dimsOf, elementCount, floatTensor, readFloats } from '../onnx/tensor.js';
import { COMPUTE_OPS } from '../quantize/qdq.js';
import { replaceInitializer } from './prune.js';

export interface UnstructuredReport {
  prunedLayers: number;
  zeroedWeights: number;
}

/** Zeroes the smallest-magnitude weights of every Conv/Gemm/MatMul to the target sparsity (per output channel). In place. */
export function pruneUnstructured(model: ModelProto, sparsity: number): UnstructuredReport {
  const graph = model.graph!;
  const index = new GraphIndex(graph);
  const done = new Set<string>();
  let zeroed = 0;
  for (const n of graph.node ?? []) {
    if (!COMPUTE_OPS.has(n.opType ?? '')) continue;
    const w = n.input?.[1] ?? '';
    const t = index.initializers.get(w);
    if (!t || t.dataType !== DataType.FLOAT || done.has(w)) continue;
    done.add(w);
    const values = readFloats(t);
    const dims = dimsOf(t);
    // Per output channel: BN-folded weights differ in scale between channels by orders of
    // magnitude, and a per-layer threshold would wipe whole small channels out.
    const axis = n.opType === 'Conv' ? 0 : n.opType === 'Gemm' && attrInt(n, 'transB', 0) === 1 ? 0 : 1;
    const rows = dims[axis] ?? 1;
    const inner = elementCount(dims.slice(axis + 1));
    const outer = elementCount(dims.slice(0, axis));
    for (let r = 0; r < rows; r++) {
      const idx: number[] = [];
      for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) idx.push((o * rows + r) * inner + i);
      const k = Math.floor(idx.length * sparsity);
      // The k smallest |w| by sorting indices (ties by index: deterministic).
      idx.sort((p, q) => Math.abs(values[p]!) - Math.abs(values[q]!) || p - q);
      for (let i = 0; i < k; i++) {
        if (values[idx[i]!] !== 0) zeroed++;
        values[idx[i]!] = 0;
      }
    }
    replaceInitializer(model, t, floatTensor(w, dims, values));
  }
  if (done.size === 0) throw new DerivationError('prune: no Conv, Gemm or MatMul with float32 weights');
  return { prunedLayers: done.size, zeroedWeights: zeroed };
}
