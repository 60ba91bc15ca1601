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
  addOutputs(copy, names);
  return copy;
}

/**
 * The encoding of `model` with the named tensors as extra outputs, without copying the graph: the
 * outputs are added, the model encoded, and the additions removed again (the same bytes as
 * `encodeModel(withExtraOutputs(model, names))`, one graph copy fewer).
 */
export function encodeWithExtraOutputs(model: ModelProto, names: readonly string[]): Uint8Array {
  const outputs = model.graph!.output!;
  const before = outputs.length;
  try {
    addOutputs(model, names);
    return encodeModel(model);
  } finally {
    outputs.length = before;
  }
}

function addOutputs(model: ModelProto, names: readonly string[]): void {
  const graph = model.graph!;
  const existing = new Set((graph.output ?? []).map((o) => o.name ?? ''));
  for (const name of names) {
    if (existing.has(name)) continue;
    graph.output!.push(proto.ValueInfoProto.create({ name }));
    existing.add(name);
  }
}

/**
 * Consecutive groups of `names` whose tensors together stay within `budgetBytes` (a tensor larger
 * than the budget is a group of its own); a size that is not known counts as the largest known one.
 * Pure and deterministic: the same sizes give the same groups.
 */
export function groupByBytes(
  names: readonly string[],
  bytesOf: (name: string) => number | undefined,
  budgetBytes: number,
): string[][] {
  const known = names.map(bytesOf).filter((b): b is number => b !== undefined);
  const fallback = known.length > 0 ? Math.max(...known) : budgetBytes;
  const groups: string[][] = [];
  let group: string[] = [];
  let sum = 0;
  for (const name of names) {
    const bytes = bytesOf(name) ?? fallback;
    if (group.length > 0 && sum + bytes > budgetBytes) {
      groups.push(group);
      group = [];
      sum = 0;
    }
    group.push(name);
    sum += bytes;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}

/**
 * How many bytes of exposed tensors one calibration or probe session may hold at once: each exposed
 * tensor is a separate output buffer onnxruntime cannot reuse, so exposing every activation of a
 * 416×416 detector at once costs hundreds of MB. Smaller groups cost more sessions (time), not memory.
 */
export const EXPOSED_BYTES_BUDGET = 24 * 2 ** 20;
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
 * The shape and type of every tensor the graph computes, measured by running it on zeros with the
 * node outputs exposed — in groups, so that only about `budgetBytes` of them are held at once (the
 * size of tensors not yet seen is guessed from those seen). Used for FLOPs, channel counts and
 * fp16 conversion; symbolic batch dimensions become 1.
 */
export async function probeTensors(
  model: ModelProto,
  budgetBytes = EXPOSED_BYTES_BUDGET,
): Promise<ProbeResult> {
  const names = [...new Set((model.graph!.node ?? []).flatMap((n) => (n.output ?? []).filter((o) => o)))];
  const feeds = zeroFeeds(model);
  const shapes = new Map<string, number[]>();
  const types = new Map<string, string>();
  let next = 0;
  let perTensor = 0; // mean bytes of the tensors seen so far
  let seen = 0;
  // The probe measures shapes; recorded shape hints (value_info) may be stale after an edit (a
  // pruned layer), and onnxruntime plans buffer reuse for unexposed tensors from them.
  const graph = model.graph!;
  const hints = graph.valueInfo;
  graph.valueInfo = [];
  try {
    await probeGroups();
  } finally {
    graph.valueInfo = hints;
  }
  for (const input of describeInputs(model)) {
    shapes.set(
      input.name,
      input.dims.map((d) => (d < 0 ? 1 : d)),
    );
    types.set(input.name, input.dtype);
  }
  return { shapes, types };

  async function probeGroups(): Promise<void> {
    while (next < names.length) {
      const count =
        seen === 0 ? 16 : Math.max(4, Math.min(1024, Math.floor(budgetBytes / Math.max(1, perTensor))));
      const group = names.slice(next, next + count);
      next += group.length;
      const session = await sessionFor(encodeWithExtraOutputs(model, group), {
        graphOptimization: 'disabled',
        threads: 1,
        memoryArena: false,
      });
      try {
        const results = await session.run(feeds, group);
        let bytes = 0;
        for (const [name, value] of Object.entries(results)) {
          shapes.set(name, [...value.dims]);
          types.set(name, value.type);
          bytes += (value.data as { byteLength?: number }).byteLength ?? 0;
          value.dispose();
        }
        perTensor = (perTensor * seen + bytes) / (seen + group.length);
        seen += group.length;
      } finally {
        await session.release();
      }
    }
  }
}

export async function probeShapes(model: ModelProto): Promise<Map<string, number[]>> {
  return (await probeTensors(model)).shapes;
}
