import { createHash } from 'node:crypto';
import { attr, makeNode, removeUnused, renameInput, topoSort, uniqueNamer } from '../onnx/graph.js';
import {
  AttrType,
  DataType,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  proto,
  type TensorProto,
} from '../onnx/onnx-io.js';
import { dimsOf, elementCount, floatTensor, readFloats } from '../onnx/tensor.js';

export interface ConstantCompaction {
  /** Constant tensors dropped because an identical one already exists. */
  deduplicated: number;
  /** Float constants stored as a palette of their distinct values plus 8- or 16-bit indices. */
  paletted: number;
  /** Bytes of tensor data before and after (both kinds of compaction). */
  bytesBefore: number;
  bytesAfter: number;
}

/** Smaller tensors are not worth four extra nodes. */
const MIN_ELEMENTS = 256;
/** A palette must save at least this share of the tensor's bytes. */
const MIN_SAVING = 0.25;

interface Candidate {
  /** The tensor's name in the graph (the Constant node's output or the initializer's name). */
  name: string;
  tensor: TensorProto;
  /** Set for a Constant node, unset for an initializer. */
  node?: NodeProto;
}

/**
 * Lossless size reduction of float constants that are not weights (anchor priors, grids, masks),
 * which weight quantization leaves at 4 bytes a value. Two steps, both exact:
 * - identical constant tensors (same type, shape and bytes) are merged into one;
 * - a float tensor with few distinct values becomes a palette (its distinct values, sorted) and
 *   uint8/uint16 indices, expanded by `Cast` + `Gather`. Every input of those is constant, so
 *   onnxruntime folds them when the session loads: the running graph is the same as before.
 * Inputs and scales of QuantizeLinear/DequantizeLinear are left alone (onnxruntime matches them
 * as initializers). Top-level graph only; names read by subgraphs are never merged away. In place.
 */
export function compactConstants(model: ModelProto): ConstantCompaction {
  const graph = model.graph!;
  const report: ConstantCompaction = { deduplicated: 0, paletted: 0, bytesBefore: 0, bytesAfter: 0 };
  const protectedNames = new Set<string>((graph.output ?? []).map((o) => o.name ?? ''));
  for (const n of graph.node ?? []) {
    if (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear')
      for (const x of n.input ?? []) protectedNames.add(x);
    for (const a of n.attribute ?? [])
      for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) subgraphReads(sub, protectedNames);
  }
  const graphInputs = new Set((graph.input ?? []).map((i) => i.name ?? ''));
  const candidates: Candidate[] = [];
  for (const n of graph.node ?? []) {
    const t = n.opType === 'Constant' && n.output?.length === 1 ? attr(n, 'value')?.t : undefined;
    if (t && t.dataType === DataType.FLOAT) candidates.push({ name: n.output![0]!, tensor: t, node: n });
  }
  for (const t of graph.initializer ?? []) {
    if (t.dataType === DataType.FLOAT && !graphInputs.has(t.name ?? ''))
      candidates.push({ name: t.name ?? '', tensor: t });
  }
  const large = candidates.filter(
    (c) => !protectedNames.has(c.name) && elementCount(dimsOf(c.tensor)) >= MIN_ELEMENTS,
  );

  // 1. Merge identical tensors into the first one (graph order, then initializer order).
  const first = new Map<string, Candidate>();
  const kept: Candidate[] = [];
  for (const c of large) {
    const values = readFloats(c.tensor);
    report.bytesBefore += 4 * values.length;
    const key = `${dimsOf(c.tensor).join('x')}:${createHash('sha256')
      .update(new Uint8Array(values.buffer, values.byteOffset, values.byteLength))
      .digest('hex')}`;
    const original = first.get(key);
    if (!original) {
      first.set(key, c);
      kept.push(c);
      continue;
    }
    renameInput(graph, c.name, original.name);
    if (c.node) graph.node = (graph.node ?? []).filter((n) => n !== c.node);
    else graph.initializer = (graph.initializer ?? []).filter((t) => t !== c.tensor);
    report.deduplicated++;
  }

  // 2. Palette: distinct values + indices, where that is clearly smaller.
  const name = uniqueNamer(graph);
  for (const c of kept) {
    const values = readFloats(c.tensor);
    const palette = paletteOf(values);
    const bytes = 4 * values.length;
    const width = palette && palette.length <= 256 ? 1 : 2;
    const compacted = palette ? 4 * palette.length + width * values.length : bytes;
    if (!palette || compacted > (1 - MIN_SAVING) * bytes) {
      report.bytesAfter += bytes;
      continue;
    }
    report.bytesAfter += compacted;
    report.paletted++;
    addPaletteNodes(graph, c, values, palette, width, name);
  }
  if (report.deduplicated + report.paletted > 0) {
    topoSort(graph);
    removeUnused(graph);
  }
  return report;
}

/** Distinct values sorted by their bit pattern (exact, NaN-safe, deterministic); undefined past 65 536. */
function paletteOf(values: Float32Array): Uint32Array | undefined {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const distinct = new Set<number>();
  for (const b of bits) {
    distinct.add(b);
    if (distinct.size > 65_536) return undefined;
  }
  return Uint32Array.from(distinct).sort();
}

function addPaletteNodes(
  graph: GraphProto,
  c: Candidate,
  values: Float32Array,
  palette: Uint32Array,
  width: 1 | 2,
  name: (base: string) => string,
): void {
  const slot = new Map(Array.from(palette, (b, i) => [b, i] as const));
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const raw = new Uint8Array(width * values.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < bits.length; i++) {
    const s = slot.get(bits[i]!)!;
    if (width === 1) raw[i] = s;
    else view.setUint16(2 * i, s, true);
  }
  const dims = dimsOf(c.tensor);
  const table = floatTensor(
    name(`${c.name}_palette`),
    [palette.length],
    new Float32Array(palette.buffer, palette.byteOffset, palette.length),
  );
  const index = proto.TensorProto.create({
    name: name(`${c.name}_palette_index`),
    dims,
    dataType: width === 1 ? DataType.UINT8 : DataType.UINT16,
    rawData: raw,
  });
  const constant = (t: TensorProto): NodeProto =>
    makeNode('Constant', [], [t.name!], name(`${t.name}_Constant`), [
      proto.AttributeProto.create({ name: 'value', type: AttrType.TENSOR, t }),
    ]);
  const index32 = name(`${c.name}_palette_index_int32`);
  const nodes = [
    constant(table),
    constant(index),
    makeNode('Cast', [index.name!], [index32], name(`${c.name}_palette_Cast`), [
      proto.AttributeProto.create({ name: 'to', type: AttrType.INT, i: DataType.INT32 }),
    ]),
    makeNode('Gather', [table.name!, index32], [c.name], name(`${c.name}_palette_Gather`), [
      proto.AttributeProto.create({ name: 'axis', type: AttrType.INT, i: 0 }),
    ]),
  ];
  if (c.node) graph.node = (graph.node ?? []).flatMap((n) => (n === c.node ? nodes : [n]));
  else {
    graph.initializer = (graph.initializer ?? []).filter((t) => t !== c.tensor);
    graph.node = [...nodes, ...(graph.node ?? [])];
  }
}

function subgraphReads(g: GraphProto, into: Set<string>): void {
  for (const n of g.node ?? []) {
    for (const x of n.input ?? []) if (x) into.add(x);
    for (const a of n.attribute ?? [])
      for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) subgraphReads(sub, into);
  }
}
