import { Matrix, SingularValueDecomposition } from 'ml-matrix';
import { throwIfAborted } from '../errors.js';
import {
  attrInt,
  attrInts,
  GraphIndex,
  makeNode,
  removeUnused,
  topoSort,
  uniqueNamer,
} from '../onnx/graph.js';
import { DataType, type ModelProto, type NodeProto } from '../onnx/onnx-io.js';
import { dimsOf, floatTensor, readFloats } from '../onnx/tensor.js';

export interface LowRankReport {
  factorizedLayers: number;
  /** Layers whose needed rank saves too little to be worth two ops. */
  keptLayers: number;
  layers: Array<{ node: string; shape: [number, number]; rank: number }>;
}

export interface LowRankOptions {
  /** Fraction of the squared singular values kept (0..1]. */
  energy: number;
  /** Factorise only when rank·(m+n) ≤ maxParamRatio · m·n. */
  maxParamRatio?: number;
  signal?: AbortSignal;
  onLayer?: (done: number, total: number) => void;
}

/** Smallest rank keeping `energy` of Σσ². */
export function rankForEnergy(singular: readonly number[], energy: number): number {
  const total = singular.reduce((a, s) => a + s * s, 0);
  if (total === 0) return 1;
  let acc = 0;
  for (let r = 0; r < singular.length; r++) {
    acc += singular[r]! ** 2;
    if (acc >= energy * total - 1e-12 * total) return r + 1;
  }
  return singular.length;
}

/**
 * Low-rank factorisation by SVD of 1×1 convolutions and of Gemm/MatMul weights: W (m×n) ≈ A·B
 * with A = U·√Σ (m×r), B = √Σ·Vᵀ (r×n), the layer becoming two (n→r, r→m). In place.
 */
export function factorizeLowRank(model: ModelProto, options: LowRankOptions): LowRankReport {
  const graph = model.graph!;
  const index = new GraphIndex(graph);
  const name = uniqueNamer(graph);
  const maxRatio = options.maxParamRatio ?? 0.8;
  const candidates = (graph.node ?? []).filter((n) => isCandidate(index, n));
  const report: LowRankReport = { factorizedLayers: 0, keptLayers: 0, layers: [] };
  const added: NodeProto[] = [];
  for (const [i, node] of candidates.entries()) {
    throwIfAborted(options.signal, 'low-rank factorisation');
    options.onLayer?.(i + 1, candidates.length);
    const w = index.initializers.get(node.input![1]!)!;
    const dims = dimsOf(w);
    const values = readFloats(w);
    // As an m×n matrix mapping n inputs to m outputs.
    let m: number;
    let n: number;
    let matrix: Matrix;
    if (node.opType === 'Conv') {
      [m, n] = [dims[0]!, dims[1]!];
      matrix = new Matrix(m, n);
      for (let r = 0; r < m; r++) for (let c = 0; c < n; c++) matrix.set(r, c, values[r * n + c]!);
    } else {
      // MatMul / Gemm(transB=0): B is [K, N] → W = Bᵀ (N×K); Gemm(transB=1): B is [N, K].
      const trans = node.opType === 'Gemm' && attrInt(node, 'transB', 0) === 1;
      [m, n] = trans ? [dims[0]!, dims[1]!] : [dims[1]!, dims[0]!];
      matrix = new Matrix(m, n);
      for (let r = 0; r < m; r++)
        for (let c = 0; c < n; c++) matrix.set(r, c, trans ? values[r * n + c]! : values[c * m + r]!);
    }
    const svd = new SingularValueDecomposition(matrix, { autoTranspose: true });
    const rank = rankForEnergy(svd.diagonal, options.energy);
    if (rank * (m + n) > maxRatio * m * n) {
      report.keptLayers++;
      continue;
    }
    const U = svd.leftSingularVectors;
    const V = svd.rightSingularVectors;
    const A = new Float32Array(m * rank); // m×r
    const B = new Float32Array(rank * n); // r×n
    for (let k = 0; k < rank; k++) {
      const s = Math.sqrt(svd.diagonal[k]!);
      for (let r = 0; r < m; r++) A[r * rank + k] = U.get(r, k) * s;
      for (let c = 0; c < n; c++) B[k * n + c] = V.get(c, k) * s;
    }
    const base = node.name || `${node.opType}_${i}`;
    const mid = name(`${base}_lowrank`);
    if (node.opType === 'Conv') {
      const first = floatTensor(name(`${w.name}_lowrank_in`), [rank, n, 1, 1], B);
      const second = floatTensor(name(`${w.name}_lowrank_out`), [m, rank, 1, 1], A);
      graph.initializer!.push(first, second);
      // The first conv keeps stride and padding; the second is a plain 1×1.
      added.push(
        makeNode('Conv', [node.input![0]!, first.name!], [mid], name(`${base}_lowrank_in`), [
          ...(node.attribute ?? []),
        ]),
      );
      node.input = [mid, second.name!, ...(node.input ?? []).slice(2)];
      node.attribute = (node.attribute ?? []).filter(
        (a) => !['strides', 'pads', 'auto_pad', 'dilations'].includes(a.name ?? ''),
      );
    } else {
      // x·Wᵀ = (x·Bᵀ)·Aᵀ with Bᵀ [n, r] and Aᵀ [r, m].
      const bt = new Float32Array(n * rank);
      for (let k = 0; k < rank; k++) for (let c = 0; c < n; c++) bt[c * rank + k] = B[k * n + c]!;
      const at = new Float32Array(rank * m);
      for (let r = 0; r < m; r++) for (let k = 0; k < rank; k++) at[k * m + r] = A[r * rank + k]!;
      const first = floatTensor(name(`${w.name}_lowrank_in`), [n, rank], bt);
      const second = floatTensor(name(`${w.name}_lowrank_out`), [rank, m], at);
      graph.initializer!.push(first, second);
      added.push(makeNode('MatMul', [node.input![0]!, first.name!], [mid], name(`${base}_lowrank_in`)));
      node.input = [mid, second.name!, ...(node.input ?? []).slice(2)];
      if (node.opType === 'Gemm') node.attribute = (node.attribute ?? []).filter((a) => a.name !== 'transB');
    }
    report.factorizedLayers++;
    report.layers.push({ node: base, shape: [m, n], rank });
  }
  graph.node = [...(graph.node ?? []), ...added];
  topoSort(graph);
  removeUnused(graph);
  return report;
}

function isCandidate(index: GraphIndex, node: NodeProto): boolean {
  const w = index.initializers.get(node.input?.[1] ?? '');
  if (!w || w.dataType !== DataType.FLOAT) return false;
  const dims = dimsOf(w);
  if (node.opType === 'Conv') {
    const kernel = dims.slice(2);
    return (
      attrInt(node, 'group', 1) === 1 &&
      kernel.every((k) => k === 1) &&
      (attrInts(node, 'dilations') ?? []).every((d) => d === 1)
    );
  }
  if (node.opType === 'MatMul') return dims.length === 2;
  if (node.opType === 'Gemm') return dims.length === 2 && attrInt(node, 'transA', 0) === 0;
  return false;
}
