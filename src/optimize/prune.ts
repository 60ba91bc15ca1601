import { DerivationError } from './errors.js';
import { attrInt, GraphIndex, intAttr, removeUnused, setAttr } from './graph.js';
import { DataType, type ModelProto, type NodeProto, type TensorProto } from './onnx-io.js';
import { COMPUTE_OPS } from './qdq.js';
import { dimsOf, elementCount, floatTensor, readFloats } from './tensor.js';

export interface UnstructuredReport {
  prunedLayers: number;
  zeroedWeights: number;
}

/** Zeroes the smallest-magnitude weights of every Conv/Gemm/MatMul to the target sparsity (per layer). In place. */
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
    const k = Math.floor(values.length * sparsity);
    if (k === 0) continue;
    // k-th smallest |w| by sorting indices (ties by index: deterministic).
    const order = Array.from(values.keys()).sort(
      (a, b) => Math.abs(values[a]!) - Math.abs(values[b]!) || a - b,
    );
    for (let i = 0; i < k; i++) {
      if (values[order[i]!] !== 0) zeroed++;
      values[order[i]!] = 0;
    }
    replaceInitializer(model, t, floatTensor(w, dimsOf(t), values));
  }
  if (done.size === 0) throw new DerivationError('prune: no Conv, Gemm or MatMul with float32 weights');
  return { prunedLayers: done.size, zeroedWeights: zeroed };
}

function replaceInitializer(model: ModelProto, old: TensorProto, next: TensorProto): void {
  const list = model.graph!.initializer!;
  list[list.indexOf(old)] = next;
}

/** Ops that act per channel: pruned channels pass through them unchanged. */
const CHANNELWISE_UNARY = new Set([
  'Relu',
  'LeakyRelu',
  'Sigmoid',
  'Clip',
  'HardSigmoid',
  'HardSwish',
  'Elu',
  'Tanh',
  'Identity',
]);
const CHANNELWISE_POOL = new Set(['MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool']);
const CHANNELWISE_BINARY = new Set(['Mul', 'Add', 'Sub', 'Div']);

export interface StructuredReport {
  /** Conv layers whose output channels were cut. */
  prunedLayers: number;
  removedChannels: number;
  /** Conv layers left alone because their channels feed something that cannot follow (Add of another branch, Reshape, an output). */
  skippedLayers: number;
}

type Edit =
  | { kind: 'input-channels'; node: NodeProto; remove: number[] }
  | { kind: 'depthwise'; node: NodeProto; remove: number[] }
  | { kind: 'batchnorm'; node: NodeProto; remove: number[] };

/**
 * Structured channel pruning: for each Conv (group 1), removes the `ratio` of output channels with
 * the lowest L1 norm and the matching input channels of every consumer, following the channels
 * through per-channel ops (activations, BatchNorm, pooling, Resize, depthwise Conv, SiLU's Mul and
 * Concat on the channel axis). A Conv whose channels reach anything else is skipped. In place.
 * `channels` gives each tensor's channel count (dim 1 of the probed shape).
 */
export function pruneStructured(
  model: ModelProto,
  ratio: number,
  shapes: ReadonlyMap<string, readonly number[]>,
): StructuredReport {
  const graph = model.graph!;
  const channels = new Map<string, number>();
  for (const [name, dims] of shapes) if (dims.length >= 2) channels.set(name, dims[1]!);
  let pruned = 0;
  let removedTotal = 0;
  let skipped = 0;
  const convs = (graph.node ?? []).filter((n) => n.opType === 'Conv' && attrInt(n, 'group', 1) === 1);
  for (const conv of convs) {
    const index = new GraphIndex(graph);
    const wt = index.initializers.get(conv.input?.[1] ?? '');
    if (!wt || wt.dataType !== DataType.FLOAT || usedElsewhere(index, wt.name ?? '', conv)) {
      skipped++;
      continue;
    }
    const dims = dimsOf(wt);
    const m = dims[0]!;
    const count = Math.min(m - 1, Math.floor(m * ratio));
    if (count <= 0) continue;
    const weights = readFloats(wt);
    const per = elementCount(dims.slice(1));
    const norms = Array.from({ length: m }, (_, c) => {
      let s = 0;
      for (let i = 0; i < per; i++) s += Math.abs(weights[c * per + i]!);
      return s;
    });
    const remove = Array.from(norms.keys())
      .sort((a, b) => norms[a]! - norms[b]! || a - b)
      .slice(0, count)
      .sort((a, b) => a - b);
    const edits = traceChannels(index, conv.output?.[0] ?? '', remove, channels);
    if (!edits) {
      skipped++;
      continue;
    }
    // Apply: the conv's own output channels, then every consumer edit.
    replaceInitializer(
      model,
      wt,
      floatTensor(wt.name ?? '', [m - count, ...dims.slice(1)], dropRows(weights, per, remove)),
    );
    const bias = index.initializers.get(conv.input?.[2] ?? '');
    if (bias)
      replaceInitializer(
        model,
        bias,
        floatTensor(bias.name ?? '', [m - count], dropRows(readFloats(bias), 1, remove)),
      );
    for (const e of edits.edits) applyEdit(model, index, e);
    for (const t of edits.carriers) channels.set(t, (channels.get(t) ?? 0) - count);
    pruned++;
    removedTotal += count;
  }
  removeUnused(graph);
  return { prunedLayers: pruned, removedChannels: removedTotal, skippedLayers: skipped };
}

function usedElsewhere(index: GraphIndex, name: string, node: NodeProto): boolean {
  return index.consumersOf(name).some((c) => c !== node);
}

/**
 * Follows the channels of `start` to every consumer. Returns the edits and the tensors that carry
 * the channels, or undefined when some consumer cannot drop them.
 */
function traceChannels(
  index: GraphIndex,
  start: string,
  remove: number[],
  channels: ReadonlyMap<string, number>,
): { edits: Edit[]; carriers: string[] } | undefined {
  const offset = new Map<string, number>([[start, 0]]);
  const queue = [start];
  const edits: Edit[] = [];
  const visited = new Set<NodeProto>();
  const shifted = (t: string) => remove.map((c) => c + offset.get(t)!);
  const carry = (t: string, off: number): boolean => {
    const known = offset.get(t);
    if (known !== undefined) return known === off;
    offset.set(t, off);
    queue.push(t);
    return true;
  };
  while (queue.length > 0) {
    const t = queue.shift()!;
    if (index.graphOutputs.has(t)) return undefined;
    for (const c of index.consumersOf(t)) {
      if (visited.has(c)) continue;
      const op = c.opType ?? '';
      const out = c.output?.[0] ?? '';
      const input0 = c.input?.[0] === t;
      if (CHANNELWISE_UNARY.has(op) && input0) {
        if (op === 'Clip' && (c.input ?? []).slice(1).some((x) => x && offset.has(x))) return undefined;
        visited.add(c);
        if (!carry(out, offset.get(t)!)) return undefined;
      } else if ((CHANNELWISE_POOL.has(op) || op === 'Resize') && input0) {
        visited.add(c);
        if (!carry(out, offset.get(t)!)) return undefined;
      } else if (op === 'BatchNormalization' && input0) {
        if (
          (c.input ?? []).slice(1).some((x) => !index.initializers.has(x) || index.consumersOf(x).length > 1)
        )
          return undefined;
        visited.add(c);
        edits.push({ kind: 'batchnorm', node: c, remove: shifted(t) });
        if (!carry(out, offset.get(t)!)) return undefined;
      } else if (CHANNELWISE_BINARY.has(op)) {
        // Both operands carry the same channels (SiLU: x · sigmoid(x)), or the other is a scalar constant.
        const other = (c.input ?? []).find((x, i) => i !== (c.input ?? []).indexOf(t) && x) ?? '';
        const scalar = index.constantOf(other);
        const ok = offset.has(other)
          ? offset.get(other) === offset.get(t)
          : scalar !== undefined && elementCount(dimsOf(scalar)) === 1;
        if (!ok) return undefined;
        visited.add(c);
        if (!carry(out, offset.get(t)!)) return undefined;
      } else if (op === 'Concat' && attrInt(c, 'axis', 0) === 1) {
        let off = 0;
        for (const x of c.input ?? []) {
          if (x === t) break;
          const n = channels.get(x);
          if (n === undefined) return undefined;
          off += n;
        }
        visited.add(c);
        if (!carry(out, off + offset.get(t)!)) return undefined;
      } else if (op === 'Conv' && input0) {
        const w = index.initializers.get(c.input?.[1] ?? '');
        if (!w || w.dataType !== DataType.FLOAT || index.consumersOf(w.name ?? '').length > 1)
          return undefined;
        const group = attrInt(c, 'group', 1);
        visited.add(c);
        if (group === 1) edits.push({ kind: 'input-channels', node: c, remove: shifted(t) });
        else if (group === channels.get(t) && dimsOf(w)[1] === 1 && dimsOf(w)[0] === group) {
          edits.push({ kind: 'depthwise', node: c, remove: shifted(t) });
          if (!carry(out, offset.get(t)!)) return undefined;
        } else return undefined;
      } else return undefined;
    }
  }
  return { edits, carriers: [...offset.keys()] };
}

function dropRows(values: Float32Array, rowLength: number, remove: readonly number[]): Float32Array {
  const drop = new Set(remove);
  const rows = values.length / rowLength;
  const out = new Float32Array((rows - drop.size) * rowLength);
  let o = 0;
  for (let r = 0; r < rows; r++) {
    if (drop.has(r)) continue;
    out.set(values.subarray(r * rowLength, (r + 1) * rowLength), o);
    o += rowLength;
  }
  return out;
}

function applyEdit(model: ModelProto, index: GraphIndex, e: Edit): void {
  const init = (i: number) => index.initializers.get(e.node.input?.[i] ?? '')!;
  if (e.kind === 'batchnorm') {
    for (let i = 1; i <= 4; i++) {
      const t = init(i);
      const kept = dropRows(readFloats(t), 1, e.remove);
      replaceInitializer(model, t, floatTensor(t.name ?? '', [kept.length], kept));
    }
    return;
  }
  const w = init(1);
  const dims = dimsOf(w);
  const values = readFloats(w);
  if (e.kind === 'depthwise') {
    const per = elementCount(dims.slice(1));
    replaceInitializer(
      model,
      w,
      floatTensor(
        w.name ?? '',
        [dims[0]! - e.remove.length, ...dims.slice(1)],
        dropRows(values, per, e.remove),
      ),
    );
    const bias = e.node.input?.[2] ? index.initializers.get(e.node.input[2]) : undefined;
    if (bias) {
      const kept = dropRows(readFloats(bias), 1, e.remove);
      replaceInitializer(model, bias, floatTensor(bias.name ?? '', [kept.length], kept));
    }
    setAttr(e.node, intAttr('group', attrInt(e.node, 'group', 1) - e.remove.length));
    return;
  }
  // input-channels: weight [M, C, k...] loses columns of dim 1.
  const [m, c] = [dims[0]!, dims[1]!];
  const k = elementCount(dims.slice(2));
  const drop = new Set(e.remove);
  const keptC = c - drop.size;
  const out = new Float32Array(m * keptC * k);
  let o = 0;
  for (let i = 0; i < m; i++)
    for (let j = 0; j < c; j++) {
      if (drop.has(j)) continue;
      out.set(values.subarray((i * c + j) * k, (i * c + j + 1) * k), o);
      o += k;
    }
  replaceInitializer(model, w, floatTensor(w.name ?? '', [m, keptC, ...dims.slice(2)], out));
}
