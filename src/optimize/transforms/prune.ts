import { attrFloat, attrInt, GraphIndex, intAttr, removeUnused, setAttr } from '../onnx/graph.js';
import { DataType, type ModelProto, type NodeProto, type TensorProto } from '../onnx/onnx-io.js';
import { dimsOf, elementCount, floatTensor, readFloats } from '../onnx/tensor.js';

export function replaceInitializer(model: ModelProto, old: TensorProto, next: TensorProto): void {
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
  | { kind: 'input-channels'; node: NodeProto; remove: number[]; values: number[] }
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
    const ownBias = index.initializers.get(conv.input?.[2] ?? '');
    const biasValues = ownBias ? readFloats(ownBias) : undefined;
    const edits = traceChannels(
      index,
      conv.output?.[0] ?? '',
      remove,
      remove.map((c) => biasValues?.[c] ?? 0),
      channels,
    );
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
 * the channels, or undefined when some consumer cannot drop them. A removed channel is treated as
 * the constant its bias gives (its weights are the smallest): that constant is followed through
 * activations, BatchNorm, pooling and depthwise convs and folded into the bias of the consuming
 * convs, so the bias the channel contributed is not lost.
 */
function traceChannels(
  index: GraphIndex,
  start: string,
  remove: number[],
  startValues: number[],
  channels: ReadonlyMap<string, number>,
): { edits: Edit[]; carriers: string[] } | undefined {
  const offset = new Map<string, number>([[start, 0]]);
  const values = new Map<string, number[]>([[start, startValues]]);
  const queue = [start];
  const edits: Edit[] = [];
  const visited = new Set<NodeProto>();
  const shifted = (t: string) => remove.map((c) => c + offset.get(t)!);
  // Everything downstream of start: a Concat joining two of them (SPP: x with maxpool(x)) would
  // need the channels cut twice at two offsets; those are skipped.
  const downstream = new Set<string>([start]);
  const walk = [start];
  while (walk.length > 0) {
    for (const c of index.consumersOf(walk.pop()!)) {
      for (const o of c.output ?? []) {
        if (o && !downstream.has(o)) {
          downstream.add(o);
          walk.push(o);
        }
      }
    }
  }
  const carry = (t: string, off: number, vals: number[]): boolean => {
    const known = offset.get(t);
    if (known !== undefined) return known === off;
    offset.set(t, off);
    values.set(t, vals);
    queue.push(t);
    return true;
  };
  while (queue.length > 0) {
    const t = queue.shift()!;
    if (index.graphOutputs.has(t)) return undefined;
    const v = values.get(t)!;
    for (const c of index.consumersOf(t)) {
      if (visited.has(c)) continue;
      const op = c.opType ?? '';
      const out = c.output?.[0] ?? '';
      const input0 = c.input?.[0] === t;
      if (CHANNELWISE_UNARY.has(op) && input0) {
        const f = unaryFunction(index, c);
        if (!f) return undefined;
        visited.add(c);
        if (!carry(out, offset.get(t)!, v.map(f))) return undefined;
      } else if ((CHANNELWISE_POOL.has(op) || op === 'Resize') && input0) {
        visited.add(c);
        if (!carry(out, offset.get(t)!, v)) return undefined;
      } else if (op === 'BatchNormalization' && input0) {
        if (
          (c.input ?? []).slice(1).some((x) => !index.initializers.has(x) || index.consumersOf(x).length > 1)
        )
          return undefined;
        visited.add(c);
        const rows = shifted(t);
        const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) =>
          readFloats(index.initializers.get(c.input![i]!)!),
        );
        const eps = attrFloat(c, 'epsilon', 1e-5);
        const bn = v.map((x, i) => {
          const r = rows[i]!;
          return (scale![r]! * (x - mean![r]!)) / Math.sqrt(variance![r]! + eps) + bias![r]!;
        });
        edits.push({ kind: 'batchnorm', node: c, remove: rows });
        if (!carry(out, offset.get(t)!, bn)) return undefined;
      } else if (CHANNELWISE_BINARY.has(op)) {
        // Both operands carry the same channels (SiLU: x · sigmoid(x)), or the other is a scalar constant.
        const inputs = c.input ?? [];
        const other = inputs.find((x, i) => i !== inputs.indexOf(t) && x) ?? inputs[0]!;
        const scalar = index.constantOf(other);
        let otherValues: number[];
        if (offset.has(other) && offset.get(other) === offset.get(t)) otherValues = values.get(other)!;
        else if (scalar && elementCount(dimsOf(scalar)) === 1)
          otherValues = v.map(() => readFloats(scalar)[0]!);
        else return undefined;
        const tFirst = inputs[0] === t;
        const [lhs, rhs] = tFirst ? [v, otherValues] : [otherValues, v];
        const combined = lhs.map((x, i) => binary(op, x, rhs[i]!));
        visited.add(c);
        if (!carry(out, offset.get(t)!, combined)) return undefined;
      } else if (op === 'Concat' && attrInt(c, 'axis', 0) === 1) {
        if ((c.input ?? []).filter((x) => downstream.has(x)).length > 1) return undefined;
        let off = 0;
        for (const x of c.input ?? []) {
          if (x === t) break;
          const n = channels.get(x);
          if (n === undefined) return undefined;
          off += n;
        }
        visited.add(c);
        if (!carry(out, off + offset.get(t)!, v)) return undefined;
      } else if (op === 'Conv' && input0) {
        const w = index.initializers.get(c.input?.[1] ?? '');
        if (!w || w.dataType !== DataType.FLOAT || index.consumersOf(w.name ?? '').length > 1)
          return undefined;
        const b = c.input?.[2] ? index.initializers.get(c.input[2]) : undefined;
        if (b && index.consumersOf(b.name ?? '').length > 1) return undefined;
        const group = attrInt(c, 'group', 1);
        visited.add(c);
        if (group === 1) edits.push({ kind: 'input-channels', node: c, remove: shifted(t), values: v });
        else if (group === channels.get(t) && dimsOf(w)[1] === 1 && dimsOf(w)[0] === group) {
          const rows = shifted(t);
          const weights = readFloats(w);
          const per = elementCount(dimsOf(w).slice(1));
          const bias = b ? readFloats(b) : undefined;
          const dw = v.map((x, i) => {
            let sum = 0;
            for (let k = 0; k < per; k++) sum += weights[rows[i]! * per + k]!;
            return x * sum + (bias?.[rows[i]!] ?? 0);
          });
          edits.push({ kind: 'depthwise', node: c, remove: rows });
          if (!carry(out, offset.get(t)!, dw)) return undefined;
        } else return undefined;
      } else return undefined;
    }
  }
  return { edits, carriers: [...offset.keys()] };
}

function unaryFunction(index: GraphIndex, node: NodeProto): ((x: number) => number) | undefined {
  switch (node.opType) {
    case 'Relu':
      return (x) => Math.max(0, x);
    case 'LeakyRelu': {
      const alpha = attrFloat(node, 'alpha', 0.01);
      return (x) => (x >= 0 ? x : alpha * x);
    }
    case 'Sigmoid':
      return (x) => 1 / (1 + Math.exp(-x));
    case 'Tanh':
      return Math.tanh;
    case 'Identity':
      return (x) => x;
    case 'Elu': {
      const alpha = attrFloat(node, 'alpha', 1);
      return (x) => (x >= 0 ? x : alpha * (Math.exp(x) - 1));
    }
    case 'HardSigmoid': {
      const alpha = attrFloat(node, 'alpha', 0.2);
      const beta = attrFloat(node, 'beta', 0.5);
      return (x) => Math.max(0, Math.min(1, alpha * x + beta));
    }
    case 'HardSwish':
      return (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5));
    case 'Clip': {
      const bound = (i: number, name: string, fallback: number) => {
        const input = node.input?.[i];
        if (input) {
          const t = index.constantOf(input);
          return t ? readFloats(t)[0] : undefined;
        }
        return attrFloat(node, name, fallback);
      };
      const lo = bound(1, 'min', Number.NEGATIVE_INFINITY);
      const hi = bound(2, 'max', Number.POSITIVE_INFINITY);
      if (lo === undefined || hi === undefined) return undefined;
      return (x) => Math.max(lo, Math.min(hi, x));
    }
    default:
      return undefined;
  }
}

function binary(op: string, a: number, b: number): number {
  switch (op) {
    case 'Mul':
      return a * b;
    case 'Add':
      return a + b;
    case 'Sub':
      return a - b;
    default:
      return a / b;
  }
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
  // Fold the removed channels' constant contribution into the bias (borders of padded convs aside).
  const correction = new Float32Array(m);
  e.remove.forEach((ch, i) => {
    const value = e.values[i]!;
    if (value === 0) return;
    for (let r = 0; r < m; r++) {
      let sum = 0;
      for (let q = 0; q < k; q++) sum += values[(r * c + ch) * k + q]!;
      correction[r]! += sum * value;
    }
  });
  if (correction.every((x) => x === 0)) return;
  const biasName = e.node.input?.[2];
  const bias = biasName ? index.initializers.get(biasName) : undefined;
  const base = bias ? readFloats(bias) : new Float32Array(m);
  for (let r = 0; r < m; r++) base[r]! += correction[r]!;
  if (bias) replaceInitializer(model, bias, floatTensor(bias.name ?? '', [m], base));
  else {
    const t = floatTensor(`${w.name}_pruned_bias`, [m], base);
    model.graph!.initializer!.push(t);
    e.node.input = [...(e.node.input ?? []).slice(0, 2), t.name!];
  }
}
