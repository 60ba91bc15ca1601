import * as ort from 'onnxruntime-node';
import { openSession, type SessionOptions } from '../../inference/session.js';
import { OnnxFormatError } from '../errors.js';
import { GraphIndex } from './graph.js';
import { cloneModel, DataType, encodeModel, type ModelProto, proto, toNum } from './onnx-io.js';

/** Opens a CPU session on model bytes; errors say onnxruntime refused the derived graph. */
export async function sessionFor(
  bytes: Uint8Array,
  options: SessionOptions = {},
): Promise<ort.InferenceSession> {
  const opened = await openSession(bytes, { ...options, executionProviders: ['cpu'] });
  return opened.session;
}

/** A copy of the model that also returns the named intermediate tensors (typeless outputs are fine for ORT). */
export function withExtraOutputs(model: ModelProto, names: readonly string[]): ModelProto {
  const copy = cloneModel(model);
  const graph = copy.graph!;
  const existing = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  for (const name of names) {
    if (existing.has(name)) continue;
    graph.output!.push(proto.ValueInfoProto.create({ name }));
    existing.add(name);
  }
  return copy;
}

export interface InputDescription {
  name: string;
  dtype: 'float32' | 'uint8' | 'float16' | 'int64' | 'other';
  /** Dimensions; symbolic ones are -1. */
  dims: number[];
}

export function describeInputs(model: ModelProto): InputDescription[] {
  const index = new GraphIndex(model.graph!);
  return index.runtimeInputs().map((name) => {
    const vi = model.graph!.input!.find((i) => i.name === name)!;
    const tt = vi.type?.tensorType;
    const dims = (tt?.shape?.dim ?? []).map((d) =>
      d.dimValue !== undefined && d.dimValue !== null && toNum(d.dimValue) > 0 ? toNum(d.dimValue) : -1,
    );
    return { name, dtype: dtypeName(tt?.elemType ?? 0), dims };
  });
}

export function dtypeName(elemType: number): InputDescription['dtype'] {
  switch (elemType) {
    case DataType.FLOAT:
      return 'float32';
    case DataType.UINT8:
      return 'uint8';
    case DataType.FLOAT16:
      return 'float16';
    case DataType.INT64:
      return 'int64';
    default:
      return 'other';
  }
}

/** A tensor of zeros for each input (symbolic dimensions taken as 1), for shape probing. */
export function zeroFeeds(model: ModelProto): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const input of describeInputs(model)) {
    const dims = input.dims.map((d) => (d < 0 ? 1 : d));
    const n = dims.reduce((a, b) => a * b, 1);
    if (input.dtype === 'float32') feeds[input.name] = new ort.Tensor('float32', new Float32Array(n), dims);
    else if (input.dtype === 'uint8') feeds[input.name] = new ort.Tensor('uint8', new Uint8Array(n), dims);
    else throw new OnnxFormatError(`input "${input.name}" of type ${input.dtype} cannot be probed`);
  }
  return feeds;
}

export interface ProbeResult {
  shapes: Map<string, number[]>;
  /** onnxruntime type names ('float32', 'float16', 'int64', ...). */
  types: Map<string, string>;
}

/**
 * The shape and type of every tensor the graph computes, measured by running it once on zeros with
 * every node output exposed. Used for FLOPs, channel counts and fp16 conversion; symbolic batch
 * dimensions become 1.
 */
export async function probeTensors(model: ModelProto): Promise<ProbeResult> {
  const names = (model.graph!.node ?? []).flatMap((n) => (n.output ?? []).filter((o) => o));
  const probe = withExtraOutputs(model, names);
  const session = await sessionFor(encodeModel(probe), { graphOptimization: 'disabled', threads: 1 });
  try {
    const results = await session.run(zeroFeeds(model));
    const shapes = new Map<string, number[]>();
    const types = new Map<string, string>();
    for (const [name, value] of Object.entries(results)) {
      shapes.set(name, [...value.dims]);
      types.set(name, value.type);
      value.dispose();
    }
    for (const input of describeInputs(model)) {
      shapes.set(
        input.name,
        input.dims.map((d) => (d < 0 ? 1 : d)),
      );
      types.set(input.name, input.dtype);
    }
    return { shapes, types };
  } finally {
    await session.release();
  }
}

export async function probeShapes(model: ModelProto): Promise<Map<string, number[]>> {
  return (await probeTensors(model)).shapes;
}
