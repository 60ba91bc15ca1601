import { DerivationError } from '../errors.js';
import { attr, GraphIndex, intAttr, makeNode, removeUnused, topoSort, uniqueNamer } from '../onnx/graph.js';
import { DataType, type ModelProto, type NodeProto, type TensorProto, toNum } from '../onnx/onnx-io.js';
import { float16Tensor, readFloats } from '../onnx/tensor.js';

import { DEFAULT_FP16_BLOCK_LIST } from './fp16-block-list.js';

export { DEFAULT_FP16_BLOCK_LIST };

/** Inputs that must stay float32 whatever the data type (Resize roi and scales). */
const FLOAT32_INPUTS: Record<string, number[]> = { Resize: [1, 2], Upsample: [1] };

export interface Fp16Report {
  convertedInitializers: number;
  blockedNodes: number;
  boundaryCasts: number;
}

/**
 * float16 weights and compute with float32 inputs and outputs kept: Casts at the graph boundary
 * and around blocked ops. `types` is the probed type of every tensor (runtime.probeTensors). In place.
 */
export function convertToFp16(
  model: ModelProto,
  types: ReadonlyMap<string, string>,
  blockList: readonly string[] = DEFAULT_FP16_BLOCK_LIST,
): Fp16Report {
  const graph = model.graph!;
  const index = new GraphIndex(graph);
  if ((graph.node ?? []).some((n) => n.opType === 'QuantizeLinear' || n.opType === 'DequantizeLinear')) {
    throw new DerivationError(
      'fp16: the source is quantized (Q/DQ nodes); derive fp16 from a float32 variant',
    );
  }
  const name = uniqueNamer(graph);
  const blocked = new Set(blockList);
  const isFloat32 = (t: string) => types.get(t) === 'float32';
  // Constants that must stay float32: those feeding blocked ops or float32-only inputs.
  const keep32 = new Set<string>();
  for (const n of graph.node ?? []) {
    const only = FLOAT32_INPUTS[n.opType ?? ''] ?? [];
    (n.input ?? []).forEach((x, i) => {
      if (blocked.has(n.opType ?? '') || only.includes(i)) keep32.add(x);
    });
  }
  let converted = 0;
  graph.initializer = (graph.initializer ?? []).map((t) => {
    if (t.dataType !== DataType.FLOAT || keep32.has(t.name ?? '')) return t;
    converted++;
    return float16Tensor(t.name ?? '', (t.dims ?? []).map(toNum), readFloats(t));
  });
  const added: NodeProto[] = [];
  for (const n of graph.node ?? []) {
    if (n.opType === 'Constant') {
      const a = attr(n, 'value');
      if (a?.t && a.t.dataType === DataType.FLOAT && !(n.output ?? []).some((o) => keep32.has(o))) {
        a.t = float16Tensor(a.t.name ?? '', (a.t.dims ?? []).map(toNum), readFloats(a.t)) as TensorProto;
        converted++;
      }
    } else if (n.opType === 'Cast') {
      const to = attr(n, 'to');
      if (to && toNum(to.i) === DataType.FLOAT && !blockedConsumersOnly(index, n, blocked))
        to.i = DataType.FLOAT16;
    } else if (blocked.has(n.opType ?? '')) {
      // float16 in → Cast to float32; float32 out → Cast back to float16.
      n.input = (n.input ?? []).map((x) => {
        if (!x || !isFloat32(x) || index.initializers.has(x) || keep32.has(x)) return x;
        const cast = name(`${x}_to_fp32`);
        added.push(makeNode('Cast', [x], [cast], name(`${cast}_Cast`), [intAttr('to', DataType.FLOAT)]));
        return cast;
      });
      n.output = (n.output ?? []).map((o) => {
        if (!o || !isFloat32(o) || index.graphOutputs.has(o)) return o;
        const raw = name(`${o}_fp32`);
        added.push(
          makeNode('Cast', [raw], [o], name(`${o}_to_fp16_Cast`), [intAttr('to', DataType.FLOAT16)]),
        );
        return raw;
      });
    }
  }
  let boundaryCasts = 0;
  for (const input of graph.input ?? []) {
    const n = input.name ?? '';
    if (index.initializers.has(n) || input.type?.tensorType?.elemType !== DataType.FLOAT) continue;
    const cast = name(`${n}_fp16`);
    for (const c of index.consumersOf(n)) {
      if (blocked.has(c.opType ?? '')) continue;
      c.input = (c.input ?? []).map((x) => (x === n ? cast : x));
    }
    added.push(makeNode('Cast', [n], [cast], name(`${n}_to_fp16`), [intAttr('to', DataType.FLOAT16)]));
    boundaryCasts++;
  }
  for (const output of graph.output ?? []) {
    const o = output.name ?? '';
    if (output.type?.tensorType?.elemType !== DataType.FLOAT) continue;
    const producer = index.producer.get(o);
    if (producer && blocked.has(producer.opType ?? '')) continue; // already float32
    const half = name(`${o}_fp16`);
    if (producer) producer.output = (producer.output ?? []).map((x) => (x === o ? half : x));
    for (const c of index.consumersOf(o)) c.input = (c.input ?? []).map((x) => (x === o ? half : x));
    added.push(makeNode('Cast', [half], [o], name(`${o}_to_fp32`), [intAttr('to', DataType.FLOAT)]));
    boundaryCasts++;
  }
  graph.node = [...(graph.node ?? []), ...added];
  // Stale float32 annotations would contradict the new types; onnxruntime infers them again.
  graph.valueInfo = [];
  topoSort(graph);
  removeUnused(graph);
  const blockedNodes = (graph.node ?? []).filter((n) => blocked.has(n.opType ?? '')).length;
  return { convertedInitializers: converted, blockedNodes, boundaryCasts };
}

function blockedConsumersOnly(index: GraphIndex, cast: NodeProto, blocked: ReadonlySet<string>): boolean {
  const consumers = index.consumersOf(cast.output?.[0] ?? '');
  return consumers.length > 0 && consumers.every((c) => blocked.has(c.opType ?? ''));
}
