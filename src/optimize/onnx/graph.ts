import {
  type AttributeProto,
  AttrType,
  type GraphProto,
  type NodeProto,
  proto,
  type TensorProto,
  toNum,
} from './onnx-io.js';

/** Lookups over a graph; rebuild after editing (cheap: one pass over nodes). */
export class GraphIndex {
  readonly initializers = new Map<string, TensorProto>();
  readonly producer = new Map<string, NodeProto>();
  readonly consumers = new Map<string, NodeProto[]>();
  readonly graphInputs = new Set<string>();
  readonly graphOutputs = new Set<string>();

  constructor(readonly graph: GraphProto) {
    for (const t of graph.initializer ?? []) this.initializers.set(t.name ?? '', t);
    for (const i of graph.input ?? []) this.graphInputs.add(i.name ?? '');
    for (const o of graph.output ?? []) this.graphOutputs.add(o.name ?? '');
    for (const node of graph.node ?? []) {
      for (const out of node.output ?? []) if (out) this.producer.set(out, node);
      for (const input of node.input ?? []) {
        if (!input) continue;
        const list = this.consumers.get(input);
        if (list) {
          if (!list.includes(node)) list.push(node);
        } else this.consumers.set(input, [node]);
      }
    }
  }

  consumersOf(name: string): NodeProto[] {
    return this.consumers.get(name) ?? [];
  }

  /** A tensor computed at run time from the input (not a weight, not a constant). */
  isActivation(name: string): boolean {
    if (this.initializers.has(name)) return false;
    const p = this.producer.get(name);
    if (p) return p.opType !== 'Constant';
    return this.graphInputs.has(name);
  }

  /** A constant tensor: an initializer, or the output of a Constant node. */
  constantOf(name: string): TensorProto | undefined {
    const init = this.initializers.get(name);
    if (init) return init;
    const p = this.producer.get(name);
    if (p?.opType === 'Constant') return attr(p, 'value')?.t ?? undefined;
    return undefined;
  }

  /** Real inputs of the graph: graph inputs that are not also initializers. */
  runtimeInputs(): string[] {
    return (this.graph.input ?? []).map((i) => i.name ?? '').filter((n) => !this.initializers.has(n));
  }
}

export function attr(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute?.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? toNum(a.i) : fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map((v) => toNum(v)) : undefined;
}

/** Integer list attribute as exact bigints (int64 values beyond 2^53 survive). */
export function attrBigInts(node: NodeProto, name: string): bigint[] | undefined {
  const a = attr(node, name);
  return a ? (a.ints ?? []).map((v) => BigInt(typeof v === 'number' ? v : v.toString())) : undefined;
}

export function attrFloat(node: NodeProto, name: string, fallback: number): number {
  const a = attr(node, name);
  return a ? (a.f ?? fallback) : fallback;
}

export function setAttr(node: NodeProto, value: AttributeProto): void {
  node.attribute = [...(node.attribute ?? []).filter((a) => a.name !== value.name), value];
}

export function removeAttr(node: NodeProto, name: string): void {
  node.attribute = (node.attribute ?? []).filter((a) => a.name !== name);
}

export const intAttr = (name: string, i: number): AttributeProto =>
  proto.AttributeProto.create({ name, type: AttrType.INT, i });
export const intsAttr = (name: string, ints: number[]): AttributeProto =>
  proto.AttributeProto.create({ name, type: AttrType.INTS, ints });
export const floatAttr = (name: string, f: number): AttributeProto =>
  proto.AttributeProto.create({ name, type: AttrType.FLOAT, f });

export function makeNode(
  opType: string,
  inputs: string[],
  outputs: string[],
  name: string,
  attributes: AttributeProto[] = [],
): NodeProto {
  return proto.NodeProto.create({ opType, input: inputs, output: outputs, name, attribute: attributes });
}

/** Hands out names that are not yet used by any tensor or node of the graph. */
export function uniqueNamer(graph: GraphProto): (base: string) => string {
  const used = new Set<string>();
  for (const t of graph.initializer ?? []) used.add(t.name ?? '');
  for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])])
    used.add(v.name ?? '');
  for (const n of graph.node ?? []) {
    used.add(n.name ?? '');
    for (const x of [...(n.input ?? []), ...(n.output ?? [])]) used.add(x);
  }
  return (base) => {
    let name = base;
    for (let i = 1; used.has(name); i++) name = `${base}_${i}`;
    used.add(name);
    return name;
  };
}

/**
 * Orders nodes so every input is produced before use, keeping the original order where it already
 * is (Kahn's algorithm picking the lowest original index first): deterministic output.
 */
export function topoSort(graph: GraphProto): void {
  const nodes = graph.node ?? [];
  const producerIndex = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.output ?? []) if (o) producerIndex.set(o, i);
  });
  const pending = nodes.map(
    (n) =>
      new Set((n.input ?? []).filter((x) => x && producerIndex.has(x)).map((x) => producerIndex.get(x)!)),
  );
  const dependents = nodes.map(() => [] as number[]);
  pending.forEach((deps, i) => {
    for (const d of deps) dependents[d]!.push(i);
  });
  const ready: number[] = [];
  pending.forEach((deps, i) => {
    if (deps.size === 0) ready.push(i);
  });
  const order: number[] = [];
  while (ready.length > 0) {
    ready.sort((a, b) => a - b);
    const i = ready.shift()!;
    order.push(i);
    for (const j of dependents[i]!) {
      const deps = pending[j]!;
      deps.delete(i);
      if (deps.size === 0) ready.push(j);
    }
  }
  if (order.length !== nodes.length) throw new Error('graph has a cycle; cannot order its nodes');
  graph.node = order.map((i) => nodes[i]!);
}

/**
 * Removes nodes whose outputs nothing uses, then initializers no node uses; keeps graph inputs
 * that are not initializers. Returns how many nodes and initializers were removed.
 */
export function removeUnused(graph: GraphProto): { nodes: number; initializers: number } {
  const needed = new Set<string>((graph.output ?? []).map((o) => o.name ?? ''));
  const kept: NodeProto[] = [];
  const nodes = graph.node ?? [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i]!;
    if ((n.output ?? []).some((o) => o && needed.has(o))) {
      kept.push(n);
      for (const x of n.input ?? []) if (x) needed.add(x);
      for (const a of n.attribute ?? [])
        for (const g of [a.g, ...(a.graphs ?? [])]) if (g) addSubgraphInputs(g, needed);
    }
  }
  kept.reverse();
  const removedNodes = nodes.length - kept.length;
  graph.node = kept;
  const before = graph.initializer?.length ?? 0;
  const originalInitializers = new Set((graph.initializer ?? []).map((t) => t.name ?? ''));
  graph.initializer = (graph.initializer ?? []).filter((t) => needed.has(t.name ?? ''));
  // Graph inputs that only mirrored a removed initializer go with it; real inputs always stay.
  graph.input = (graph.input ?? []).filter(
    (i) => needed.has(i.name ?? '') || !originalInitializers.has(i.name ?? ''),
  );
  const produced = new Set<string>();
  for (const n of graph.node) for (const o of n.output ?? []) produced.add(o);
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => produced.has(v.name ?? ''));
  return { nodes: removedNodes, initializers: before - graph.initializer.length };
}

/** Outer-scope names a subgraph (If/Loop body) reads. */
function addSubgraphInputs(g: GraphProto, needed: Set<string>): void {
  for (const n of g.node ?? []) {
    for (const x of n.input ?? []) if (x) needed.add(x);
    for (const a of n.attribute ?? [])
      for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) addSubgraphInputs(sub, needed);
  }
}

/** Replaces every use of tensor `from` as a node input (and graph output) by `to`. */
export function renameInput(graph: GraphProto, from: string, to: string, except?: NodeProto): void {
  for (const n of graph.node ?? []) {
    if (n === except) continue;
    n.input = (n.input ?? []).map((x) => (x === from ? to : x));
  }
}
