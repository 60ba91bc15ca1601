import type { onnx } from 'onnx-proto';
import onnxProto from 'onnx-proto';
import { errorMessage } from '../../errors.js';
import { OnnxFormatError } from '../errors.js';

export type ModelProto = onnx.ModelProto;
export type GraphProto = onnx.IGraphProto;
export type NodeProto = onnx.INodeProto;
export type TensorProto = onnx.ITensorProto;
export type AttributeProto = onnx.IAttributeProto;
export type ValueInfoProto = onnx.IValueInfoProto;

export const proto = onnxProto.onnx;

/** ONNX TensorProto.DataType values the optimiser reads and writes. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;

export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5, FLOATS: 6, INTS: 7 } as const;

/** protobufjs decodes int64 fields as Long objects when `long` is installed; this makes them numbers. */
export function toNum(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Decodes ONNX bytes into an editable ModelProto. Refuses what is not a model (a truncated file, an
 * image, an empty graph) and models whose tensors live in external data files: those can point
 * anywhere on disk, and the derived file must be self-contained.
 */
export function decodeModel(bytes: Uint8Array, what = 'model'): ModelProto {
  if (bytes.length === 0) throw new OnnxFormatError(`${what}: empty file, not an ONNX model`);
  let model: ModelProto;
  try {
    model = proto.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxFormatError(
      `${what}: not a readable ONNX model (${errorMessage(err)}); the file is truncated or of another format`,
      { cause: err },
    );
  }
  const graph = model.graph;
  if (!graph || (graph.node?.length ?? 0) === 0 || (graph.output?.length ?? 0) === 0) {
    throw new OnnxFormatError(`${what}: not an ONNX model (no graph with nodes and outputs)`);
  }
  if (!model.opsetImport?.some((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')) {
    throw new OnnxFormatError(
      `${what}: no default-domain opset import; not an ONNX model this tool can edit`,
    );
  }
  const external = findExternalData(graph);
  if (external) {
    throw new OnnxFormatError(
      `${what}: tensor "${external}" is stored in an external data file; external data can point outside the ` +
        'model folder, so it is refused — save the model with all tensors inside the .onnx file first',
    );
  }
  return model;
}

function findExternalData(graph: GraphProto): string | undefined {
  for (const t of graph.initializer ?? []) {
    if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) return t.name ?? '(unnamed)';
  }
  for (const n of graph.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t && (a.t.dataLocation === 1 || (a.t.externalData?.length ?? 0) > 0))
        return a.t.name || `${n.name}.${a.name}`;
      for (const g of [a.g, ...(a.graphs ?? [])]) {
        if (!g) continue;
        const inner = findExternalData(g);
        if (inner) return inner;
      }
    }
  }
  return undefined;
}

/**
 * Encodes a model. protobufjs writes fields in field-number order and the optimiser never adds a
 * timestamp, so the same graph always gives the same bytes.
 */
export function encodeModel(model: ModelProto): Uint8Array {
  return proto.ModelProto.encode(model).finish();
}

/** A deep copy (decode of the encoding) so derivations never edit their source in place. */
export function cloneModel(model: ModelProto): ModelProto {
  return proto.ModelProto.decode(encodeModel(model));
}

/** The version of the default ("" / ai.onnx) opset. */
export function defaultOpset(model: ModelProto): number {
  const entry = model.opsetImport.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  return toNum(entry?.version);
}

export function setDefaultOpset(model: ModelProto, version: number): void {
  const entry = model.opsetImport.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx');
  if (entry) entry.version = version;
  else model.opsetImport.push(proto.OperatorSetIdProto.create({ domain: '', version }));
}
