import { attrInt, GraphIndex } from './graph.js';
import { DataType, defaultOpset, type ModelProto, toNum } from './onnx-io.js';
import { describeInputs, type InputDescription } from './runtime.js';
import { dimsOf, elementCount } from './tensor.js';

export interface ModelInspection {
  irVersion: number;
  opset: number;
  producer: string;
  nodes: number;
  /** Node count per op type, sorted by name. */
  ops: Record<string, number>;
  inputs: InputDescription[];
  /** Output names, with their shapes when probed shapes were given. */
  outputs: Array<{ name: string; dims?: number[] }>;
  initializers: number;
  /** Weights and biases (float initializers plus quantized weights), not shapes or quantization scales. */
  parameterCount: number;
  /** Parameters that are not zero (shows unstructured sparsity). */
  nonZeroParameters: number;
  /** 2 × multiply-accumulates of Conv, Gemm and MatMul for one input (batch 1); undefined without shapes. */
  flops: number | undefined;
  /** Initializers that are also graph inputs (old exports; `clean` removes them). */
  initializerInputs: number;
}

/** Pure inspection of a decoded model; pass probed shapes (runtime.probeShapes) to get FLOPs. */
export function inspectModel(
  model: ModelProto,
  shapes?: ReadonlyMap<string, readonly number[]>,
): ModelInspection {
  const graph = model.graph!;
  const index = new GraphIndex(graph);
  const ops: Record<string, number> = {};
  for (const n of graph.node ?? []) ops[n.opType ?? ''] = (ops[n.opType ?? ''] ?? 0) + 1;
  const sortedOps = Object.fromEntries(Object.entries(ops).sort(([a], [b]) => a.localeCompare(b)));
  const { count, nonZero } = countParameters(index);
  return {
    irVersion: toNum(model.irVersion),
    opset: defaultOpset(model),
    producer: `${model.producerName ?? ''} ${model.producerVersion ?? ''}`.trim(),
    nodes: graph.node?.length ?? 0,
    ops: sortedOps,
    inputs: describeInputs(model),
    outputs: (graph.output ?? []).map((o) => {
      const dims = shapes?.get(o.name ?? '');
      return dims ? { name: o.name ?? '', dims: [...dims] } : { name: o.name ?? '' };
    }),
    initializers: graph.initializer?.length ?? 0,
    parameterCount: count,
    nonZeroParameters: nonZero,
    flops: shapes ? estimateFlops(index, shapes) : undefined,
    initializerInputs: (graph.input ?? []).filter((i) => index.initializers.has(i.name ?? '')).length,
  };
}

const FLOAT_TYPES = new Set<number>([DataType.FLOAT, DataType.FLOAT16, DataType.DOUBLE]);

function countParameters(index: GraphIndex): { count: number; nonZero: number } {
  // Quantization scales and zero points (inputs 1 and 2 of Q/DQ) are bookkeeping, not parameters.
  const bookkeeping = new Set<string>();
  const quantizedWeights = new Set<string>();
  for (const n of index.graph.node ?? []) {
    if (n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear') {
      for (const x of (n.input ?? []).slice(1)) bookkeeping.add(x);
      if (n.opType === 'DequantizeLinear' && index.initializers.has(n.input?.[0] ?? ''))
        quantizedWeights.add(n.input![0]!);
    }
  }
  let count = 0;
  let nonZero = 0;
  for (const [name, t] of index.initializers) {
    if (bookkeeping.has(name)) continue;
    if (!FLOAT_TYPES.has(t.dataType ?? 0) && !quantizedWeights.has(name)) continue;
    const n = elementCount(dimsOf(t));
    if (n <= 1) continue; // scalars are constants of the graph, not learned weights
    count += n;
    nonZero += countNonZero(t, n);
  }
  return { count, nonZero };
}

function countNonZero(
  t: { rawData?: Uint8Array | null; floatData?: number[] | null; dataType?: number | null },
  n: number,
): number {
  const raw = t.rawData;
  if (!raw || raw.length === 0) return (t.floatData ?? []).filter((v) => v !== 0).length || n;
  const width = raw.length / n;
  let nz = 0;
  for (let i = 0; i < n; i++) {
    let zero = true;
    for (let b = 0; b < width; b++) {
      const byte = raw[i * width + b]!;
      // -0.0 is zero too: ignore the sign bit of the most significant byte of floats.
      if (byte !== 0 && !(b === width - 1 && width > 1 && byte === 0x80)) {
        zero = false;
        break;
      }
    }
    if (!zero) nz++;
  }
  return nz;
}

/** The dims of a weight input, through DequantizeLinear / Cast of an initializer. */
export function weightDims(
  index: GraphIndex,
  name: string,
  shapes?: ReadonlyMap<string, readonly number[]>,
): number[] | undefined {
  const init = index.initializers.get(name);
  if (init) return dimsOf(init);
  const p = index.producer.get(name);
  if (p && (p.opType === 'DequantizeLinear' || p.opType === 'Cast'))
    return weightDims(index, p.input?.[0] ?? '', shapes);
  const s = shapes?.get(name);
  return s ? [...s] : undefined;
}

function estimateFlops(index: GraphIndex, shapes: ReadonlyMap<string, readonly number[]>): number {
  let macs = 0;
  for (const n of index.graph.node ?? []) {
    const out = shapes.get(n.output?.[0] ?? '');
    if (!out) continue;
    if (n.opType === 'Conv' || n.opType === 'ConvTranspose') {
      const w = weightDims(index, n.input?.[1] ?? '', shapes);
      if (!w || w.length < 3) continue;
      // Conv: each output element costs prod(weight dims after the first) MACs (C/group × kernel);
      // ConvTranspose: each input element is spread over that many outputs.
      const base = n.opType === 'Conv' ? out : (shapes.get(n.input?.[0] ?? '') ?? []);
      macs += elementCount(base) * elementCount(w.slice(1));
    } else if (n.opType === 'Gemm' || n.opType === 'MatMul') {
      const a = shapes.get(n.input?.[0] ?? '') ?? weightDims(index, n.input?.[0] ?? '', shapes);
      if (!a || a.length === 0) continue;
      const k = n.opType === 'Gemm' && attrInt(n, 'transA', 0) === 1 ? a[0]! : a[a.length - 1]!;
      macs += elementCount(out) * k;
    }
  }
  return 2 * macs;
}
