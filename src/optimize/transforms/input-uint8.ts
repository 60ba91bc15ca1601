import type { InputOverride, InputSpec } from '../../models/manifest.js';
import { DerivationError } from '../errors.js';
import { GraphIndex, intAttr, intsAttr, makeNode, topoSort, uniqueNamer } from '../onnx/graph.js';
import { DataType, type ModelProto, proto, toNum } from '../onnx/onnx-io.js';
import { floatTensor } from '../onnx/tensor.js';

/**
 * Prepends the preprocessing to the graph: the variant takes uint8 NHWC pixels in the model's
 * colour order at the model's input size, and does Cast → x·a + b (a = scale/std, b = −mean/std)
 * → Transpose to NCHW inside. Lossless; the camera hands frames over without a float pass.
 * In place. Returns the manifest input override for the new variant.
 */
export function prependUint8Input(
  model: ModelProto,
  spec: InputSpec,
  sourceOverride?: InputOverride,
): InputOverride {
  const graph = model.graph!;
  const index = new GraphIndex(graph);
  const inputs = index.runtimeInputs();
  if (!inputs.includes(spec.name))
    throw new DerivationError(`input-uint8: the model has no input "${spec.name}"`);
  if (spec.dtype !== 'float32' || spec.layout !== 'NCHW') {
    throw new DerivationError(
      `input-uint8: the source already takes ${spec.dtype} ${spec.layout}; derive from a float32 NCHW variant`,
    );
  }
  const input = graph.input!.find((i) => i.name === spec.name)!;
  const tt = input.type?.tensorType;
  if (tt?.elemType !== DataType.FLOAT)
    throw new DerivationError(`input-uint8: input "${spec.name}" is not float32`);
  const dims = (tt.shape?.dim ?? []).map((d) => toNum(d.dimValue));
  if (dims.length !== 4 || (dims[1] !== 3 && dims[1] !== 0)) {
    throw new DerivationError(
      `input-uint8: input "${spec.name}" is not an NCHW image tensor with 3 channels`,
    );
  }
  const name = uniqueNamer(graph);
  const internal = name(`${spec.name}_nchw_float`);
  for (const n of graph.node ?? []) n.input = (n.input ?? []).map((x) => (x === spec.name ? internal : x));

  const { scale, mean, std } = spec.normalize;
  const a = [scale / std[0], scale / std[1], scale / std[2]];
  const b = [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]];
  const nodes = [];
  let current = name(`${spec.name}_float`);
  nodes.push(
    makeNode('Cast', [spec.name], [current], name(`${spec.name}_Cast`), [intAttr('to', DataType.FLOAT)]),
  );
  if (a.some((v) => v !== 1)) {
    const t = floatTensor(name(`${spec.name}_norm_scale`), [1, 1, 1, 3], a);
    graph.initializer!.push(t);
    const out = name(`${spec.name}_scaled`);
    nodes.push(makeNode('Mul', [current, t.name!], [out], name(`${spec.name}_Mul`)));
    current = out;
  }
  if (b.some((v) => v !== 0)) {
    const t = floatTensor(name(`${spec.name}_norm_offset`), [1, 1, 1, 3], b);
    graph.initializer!.push(t);
    const out = name(`${spec.name}_normalized`);
    nodes.push(makeNode('Add', [current, t.name!], [out], name(`${spec.name}_Add`)));
    current = out;
  }
  nodes.push(
    makeNode('Transpose', [current], [internal], name(`${spec.name}_to_NCHW`), [
      intsAttr('perm', [0, 3, 1, 2]),
    ]),
  );
  graph.node = [...nodes, ...(graph.node ?? [])];
  const batch = tt.shape?.dim?.[0];
  input.type = proto.TypeProto.create({
    tensorType: {
      elemType: DataType.UINT8,
      shape: {
        dim: [
          batch && toNum(batch.dimValue) > 0 ? { dimValue: toNum(batch.dimValue) } : { dimValue: 1 },
          { dimValue: spec.height },
          { dimValue: spec.width },
          { dimValue: 3 },
        ],
      },
    },
  });
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => v.name !== spec.name);
  topoSort(graph);
  return {
    ...(sourceOverride ?? {}),
    dtype: 'uint8',
    layout: 'NHWC',
    normalize: { scale: 1, mean: [0, 0, 0], std: [1, 1, 1] },
  };
}
