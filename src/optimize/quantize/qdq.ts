import { DerivationError } from '../errors.js';
import {
  attrInt,
  GraphIndex,
  intAttr,
  makeNode,
  removeUnused,
  topoSort,
  uniqueNamer,
} from '../onnx/graph.js';
import { DataType, type ModelProto, type NodeProto } from '../onnx/onnx-io.js';
import { dimsOf, floatTensor, int8Tensor, int32Tensor, readFloats, uint8Tensor } from '../onnx/tensor.js';
import { int8Params, type QParams, quantizeWeightsPerChannel, type Range, uint8Params } from './ranges.js';

/** Ops with weights whose quantized form onnxruntime fuses (QLinearConv, QLinearMatMul, QGemm). */
export const COMPUTE_OPS = new Set(['Conv', 'Gemm', 'MatMul']);
/** Ops with QLinear kernels in onnxruntime's CPU provider: each requantizes its output. */
const ARITH_OPS = new Set([
  'Add',
  'Mul',
  'Sigmoid',
  'LeakyRelu',
  'Concat',
  'GlobalAveragePool',
  'AveragePool',
]);
/** Ops that only move data: same scale and zero point on input and output, or they stay float. */
const MOVE_OPS = new Set([
  'MaxPool',
  'Resize',
  'Slice',
  'Reshape',
  'Transpose',
  'Flatten',
  'Squeeze',
  'Unsqueeze',
  'Split',
  'DepthToSpace',
  'SpaceToDepth',
]);
/** Absorbed by onnxruntime when followed by Q with the zero point at the type minimum. */
const ABSORBED_OPS = new Set(['Relu', 'Clip']);

export interface QdqPlan {
  /** Nodes that run quantized (by name). */
  quantizedNodes: Set<string>;
  /** Compute nodes (Conv/Gemm/MatMul) that are quantized, in graph order. */
  computeNodes: string[];
  /** Activation tensors that get a QuantizeLinear → DequantizeLinear pair, in graph order. */
  tensors: string[];
  /** Tensors that must share one scale (linked through data-movement ops): tensor → group id. */
  groupOf: Map<string, string>;
}

/** Gives every node a name (the sensitivity search refers to nodes by name). In place, deterministic. */
export function ensureNodeNames(model: ModelProto): void {
  const graph = model.graph!;
  const name = uniqueNamer(graph);
  graph.node?.forEach((n, i) => {
    if (!n.name) n.name = name(`${n.opType}_${i}`);
  });
}

/** Which inputs of a node carry data to quantize (not shapes, indices, weights or scales). */
function dataInputs(node: NodeProto): string[] {
  const inputs = node.input ?? [];
  if (COMPUTE_OPS.has(node.opType ?? ''))
    return node.opType === 'MatMul' ? inputs.slice(0, 2) : inputs.slice(0, 1);
  if (MOVE_OPS.has(node.opType ?? '') || ABSORBED_OPS.has(node.opType ?? '')) return inputs.slice(0, 1);
  return inputs.filter((x) => x);
}

/**
 * Decides the QDQ layout: every compute node (except `keepFloat`), and every op with a quantized
 * kernel on the way into one, runs quantized; the activations between them get Q/DQ. Nodes kept in
 * float lose the Q/DQ on their output too (otherwise onnxruntime quantizes them anyway).
 */
export function planQdq(model: ModelProto, keepFloat: ReadonlySet<string> = new Set()): QdqPlan {
  const index = new GraphIndex(model.graph!);
  const nodes = model.graph!.node ?? [];
  const compute = nodes.filter(
    (n) => COMPUTE_OPS.has(n.opType ?? '') && !keepFloat.has(n.name ?? '') && hasConstantWeight(index, n),
  );
  // Tensors that flow (through quantizable ops) into a quantized compute node.
  const upstream = new Set<string>();
  const stack = compute.flatMap((n) => dataInputs(n).filter((x) => index.isActivation(x)));
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (upstream.has(t)) continue;
    upstream.add(t);
    const p = index.producer.get(t);
    if (!p || keepFloat.has(p.name ?? '')) continue;
    const op = p.opType ?? '';
    if (ARITH_OPS.has(op) || MOVE_OPS.has(op) || ABSORBED_OPS.has(op)) {
      for (const x of dataInputs(p)) if (index.isActivation(x)) stack.push(x);
    }
  }
  const quantized = new Set<string>(compute.map((n) => n.name ?? ''));
  for (const n of nodes) {
    const op = n.opType ?? '';
    if (keepFloat.has(n.name ?? '') || !(ARITH_OPS.has(op) || MOVE_OPS.has(op) || ABSORBED_OPS.has(op)))
      continue;
    if ((n.output ?? []).some((o) => upstream.has(o))) quantized.add(n.name ?? '');
  }

  const chosen = new Set<string>();
  const consider = (t: string) => {
    if (!t || !index.isActivation(t) || index.graphOutputs.has(t)) return;
    const p = index.producer.get(t);
    if (p && !quantized.has(p.name ?? '') && (keepFloat.has(p.name ?? '') || COMPUTE_OPS.has(p.opType ?? '')))
      return;
    if (p && COMPUTE_OPS.has(p.opType ?? '')) {
      // Conv → Relu: the Relu's output carries the Q; onnxruntime drops the Relu and fuses.
      const consumers = index.consumersOf(t);
      if (
        consumers.length > 0 &&
        consumers.every((c) => ABSORBED_OPS.has(c.opType ?? '') && quantized.has(c.name ?? ''))
      )
        return;
    }
    chosen.add(t);
  };
  for (const n of nodes) {
    if (!quantized.has(n.name ?? '')) continue;
    for (const x of dataInputs(n)) consider(x);
    for (const o of n.output ?? []) consider(o);
  }
  // Keep graph order for deterministic names and output.
  const candidates = [...index.runtimeInputs(), ...nodes.flatMap((n) => n.output ?? [])];
  const order = [...new Set(candidates.filter((t) => chosen.has(t)))];

  const parent = new Map<string, string>(order.map((t) => [t, t]));
  const find = (t: string): string => {
    let r = t;
    while (parent.get(r) !== r) r = parent.get(r)!;
    parent.set(t, r);
    return r;
  };
  for (const n of nodes) {
    if (!quantized.has(n.name ?? '') || !MOVE_OPS.has(n.opType ?? '')) continue;
    const input = n.input?.[0] ?? '';
    for (const o of n.output ?? []) {
      if (chosen.has(input) && chosen.has(o)) {
        const a = find(input);
        const b = find(o);
        if (a !== b) parent.set(b, a);
      }
    }
  }
  const groupOf = new Map(order.map((t) => [t, find(t)]));
  return {
    quantizedNodes: quantized,
    computeNodes: compute.map((n) => n.name ?? ''),
    tensors: order,
    groupOf,
  };
}

function hasConstantWeight(index: GraphIndex, node: NodeProto): boolean {
  const w = node.input?.[1] ?? '';
  if (node.opType === 'MatMul') return true; // activation × activation quantizes both inputs
  const t = index.initializers.get(w);
  return t !== undefined && t.dataType === DataType.FLOAT;
}

/** The union of the ranges of each scale-sharing group. */
export function groupRanges(
  plan: QdqPlan,
  ranges: ReadonlyMap<string, Range>,
  activations: 'uint8' | 'int8' = 'uint8',
): Map<string, QParams> {
  const toParams = activations === 'int8' ? int8Params : uint8Params;
  const groupRange = new Map<string, Range>();
  for (const t of plan.tensors) {
    const r = ranges.get(t);
    if (!r) throw new DerivationError(`no calibration range for tensor "${t}"`);
    const g = plan.groupOf.get(t)!;
    const cur = groupRange.get(g);
    groupRange.set(g, cur ? { lo: Math.min(cur.lo, r.lo), hi: Math.max(cur.hi, r.hi) } : r);
  }
  return new Map(plan.tensors.map((t) => [t, toParams(groupRange.get(plan.groupOf.get(t)!)!)]));
}

export interface QdqOptions {
  reduceRange: boolean;
}

export interface QdqReport {
  quantizedNodes: number;
  quantizedComputeNodes: number;
  qdqPairs: number;
  /** Activation tensor → the name of its dequantized copy (what quantized consumers read). */
  dequantized: Map<string, string>;
}

/** Rewrites the model in QDQ form per the plan and the activation parameters. In place. */
export function applyQdq(
  model: ModelProto,
  plan: QdqPlan,
  params: ReadonlyMap<string, QParams>,
  options: QdqOptions,
): QdqReport {
  const graph = model.graph!;
  const index = new GraphIndex(graph);
  const name = uniqueNamer(graph);
  const added: NodeProto[] = [];
  const dequantized = new Map<string, string>();
  for (const t of plan.tensors) {
    const qp = params.get(t)!;
    const scale = floatTensor(name(`${t}_scale`), [], [qp.scale]);
    const zeroName = name(`${t}_zero_point`);
    const zero =
      qp.type === 'int8'
        ? int8Tensor(zeroName, [], [qp.zeroPoint])
        : uint8Tensor(zeroName, [], [qp.zeroPoint]);
    graph.initializer!.push(scale, zero);
    const qName = name(`${t}_quantized`);
    const dqName = name(`${t}_dequantized`);
    const consumers = index.consumersOf(t);
    dequantized.set(t, dqName);
    added.push(
      makeNode('QuantizeLinear', [t, scale.name!, zero.name!], [qName], name(`${t}_QuantizeLinear`)),
    );
    added.push(
      makeNode('DequantizeLinear', [qName, scale.name!, zero.name!], [dqName], name(`${t}_DequantizeLinear`)),
    );
    for (const c of consumers) c.input = (c.input ?? []).map((x) => (x === t ? dqName : x));
  }
  const weights = new WeightQuantizer(model, name, options.reduceRange);
  const original = new Map<string, string>([...dequantized].map(([t, dq]) => [dq, t]));
  for (const n of graph.node ?? []) {
    if (!plan.computeNodes.includes(n.name ?? '')) continue;
    const axis = weightAxis(n);
    const w = n.input?.[1] ?? '';
    if (!index.initializers.has(w)) continue; // activation × activation MatMul: both inputs already Q/DQ
    const { dequantized: dqWeight, scales } = weights.quantize(w, axis);
    const b = n.input?.[2];
    const x = n.input?.[0] ?? '';
    const inputQp = params.get(original.get(x) ?? x);
    n.input![1] = dqWeight;
    if (b && inputQp && index.initializers.has(b)) {
      const bias = index.initializers.get(b)!;
      if (dimsOf(bias).length === 1 && dimsOf(bias)[0] === scales.length)
        n.input![2] = weights.quantizeBias(b, inputQp.scale, scales);
    }
  }
  graph.node = [...(graph.node ?? []), ...added, ...weights.nodes];
  topoSort(graph);
  removeUnused(graph);
  return {
    quantizedNodes: plan.quantizedNodes.size,
    quantizedComputeNodes: plan.computeNodes.length,
    qdqPairs: plan.tensors.length,
    dequantized,
  };
}

/** Output-channel axis of the weight of a compute node. */
export function weightAxis(node: NodeProto): number {
  if (node.opType === 'Gemm') return attrInt(node, 'transB', 0) === 1 ? 0 : 1;
  if (node.opType === 'MatMul') return 1;
  return 0;
}

/** Per-channel symmetric int8 weights behind DequantizeLinear, shared by nodes using the same weight. */
export class WeightQuantizer {
  readonly nodes: NodeProto[] = [];
  private readonly done = new Map<string, { dequantized: string; scales: Float32Array }>();
  private readonly index: GraphIndex;

  constructor(
    private readonly model: ModelProto,
    private readonly name: (base: string) => string,
    private readonly reduceRange: boolean,
  ) {
    this.index = new GraphIndex(model.graph!);
  }

  quantize(weight: string, axis: number): { dequantized: string; scales: Float32Array } {
    const key = `${weight}\u0000${axis}`;
    const cached = this.done.get(key);
    if (cached) return cached;
    const t = this.index.initializers.get(weight)!;
    const dims = dimsOf(t);
    const values = readFloats(t);
    const perChannel = dims.length >= 2 && axis < dims.length;
    const { q, scales } = quantizeWeightsPerChannel(
      values,
      perChannel ? dims : [1, values.length],
      perChannel ? axis : 0,
      this.reduceRange,
    );
    const graph = this.model.graph!;
    const qt = int8Tensor(this.name(`${weight}_quantized`), dims, q);
    const st = floatTensor(this.name(`${weight}_scale`), perChannel ? [scales.length] : [], scales);
    const zt = int8Tensor(
      this.name(`${weight}_zero_point`),
      perChannel ? [scales.length] : [],
      new Int8Array(scales.length),
    );
    graph.initializer!.push(qt, st, zt);
    const dequantized = this.name(`${weight}_dequantized`);
    this.nodes.push(
      makeNode(
        'DequantizeLinear',
        [qt.name!, st.name!, zt.name!],
        [dequantized],
        this.name(`${weight}_DequantizeLinear`),
        perChannel ? [intAttr('axis', axis)] : [],
      ),
    );
    const result = {
      dequantized,
      scales: perChannel ? scales : new Float32Array(dims[axis] ?? 1).fill(scales[0]!),
    };
    this.done.set(key, result);
    return result;
  }

  /** int32 bias with scale = input scale × weight scale per channel, zero point 0. */
  quantizeBias(bias: string, inputScale: number, weightScales: Float32Array): string {
    const t = this.index.initializers.get(bias)!;
    const values = readFloats(t);
    const scales = new Float32Array(weightScales.length);
    const q = new Int32Array(values.length);
    for (let c = 0; c < values.length; c++) {
      scales[c] = inputScale * weightScales[c]!;
      q[c] = Math.max(-2147483648, Math.min(2147483647, Math.round(values[c]! / scales[c]!)));
    }
    const graph = this.model.graph!;
    const qt = int32Tensor(this.name(`${bias}_quantized`), [values.length], q);
    const st = floatTensor(this.name(`${bias}_scale`), [values.length], scales);
    const zt = int32Tensor(this.name(`${bias}_zero_point`), [values.length], new Int32Array(values.length));
    graph.initializer!.push(qt, st, zt);
    const out = this.name(`${bias}_dequantized`);
    this.nodes.push(
      makeNode(
        'DequantizeLinear',
        [qt.name!, st.name!, zt.name!],
        [out],
        this.name(`${bias}_DequantizeLinear`),
        [intAttr('axis', 0)],
      ),
    );
    return out;
  }
}
