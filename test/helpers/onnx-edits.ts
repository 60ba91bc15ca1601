import { makeNode } from '../../src/optimize/onnx/graph.js';
import {
  DataType,
  decodeModel,
  encodeModel,
  type ModelProto,
  proto,
} from '../../src/optimize/onnx/onnx-io.js';

/**
 * Real graph edits of bundled models for the deployment tests: the edited files load and run in
 * onnxruntime like any model an operator could ship.
 */

function floatTensor(name: string, dims: number[], values: number[] | Float32Array) {
  return proto.TensorProto.create({
    name,
    dims,
    dataType: DataType.FLOAT,
    rawData: new Uint8Array(Float32Array.from(values).buffer),
  });
}

function int64Tensor(name: string, values: number[]) {
  return proto.TensorProto.create({
    name,
    dims: [values.length],
    dataType: DataType.INT64,
    rawData: new Uint8Array(BigInt64Array.from(values.map(BigInt)).buffer),
  });
}

/** Renames the producer of graph output `output` to `<output>_raw` and returns that name. */
function detachOutput(model: ModelProto, output: string): string {
  const raw = `${output}_raw`;
  for (const n of model.graph!.node!) n.output = n.output!.map((o) => (o === output ? raw : o));
  for (const n of model.graph!.node!) n.input = n.input!.map((i) => (i === output ? raw : i));
  return raw;
}

/** The output `output` multiplied by `factor` (0: a detector whose scores collapse to nothing). */
export function scaleOutput(bytes: Uint8Array, output: string, factor: number): Uint8Array {
  const model = decodeModel(bytes);
  const raw = detachOutput(model, output);
  model.graph!.initializer!.push(floatTensor('edit_scale', [], [factor]));
  model.graph!.node!.push(makeNode('Mul', [raw, 'edit_scale'], [output], 'edit_scale_mul'));
  return encodeModel(model);
}

/**
 * A heavy branch whose result is added to `output` times 0: the outputs are unchanged, the work is
 * `matmuls` MatMuls of the input reshaped to [rows, width] × [width, width] (not removable: it
 * depends on the input). Values stay bounded (weights 1/width), so 0 × it is exactly 0.
 */
export function addHeavyBranch(
  bytes: Uint8Array,
  input: { name: string; dims: number[] },
  output: string,
  matmuls: number,
): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph!;
  const width = input.dims.at(-1)!;
  const rows = input.dims.reduce((a, b) => a * b, 1) / width;
  g.initializer!.push(int64Tensor('heavy_shape', [rows, width]));
  g.initializer!.push(
    floatTensor('heavy_w', [width, width], new Float32Array(width * width).fill(1 / width)),
  );
  g.initializer!.push(floatTensor('heavy_zero', [], [0]));
  g.node!.push(makeNode('Reshape', [input.name, 'heavy_shape'], ['heavy_0'], 'heavy_reshape'));
  for (let i = 0; i < matmuls; i++)
    g.node!.push(makeNode('MatMul', [`heavy_${i}`, 'heavy_w'], [`heavy_${i + 1}`], `heavy_mm_${i}`));
  g.node!.push(
    proto.NodeProto.create({
      opType: 'ReduceMean',
      input: [`heavy_${matmuls}`],
      output: ['heavy_mean'],
      name: 'heavy_reduce',
      attribute: [proto.AttributeProto.create({ name: 'keepdims', type: 2, i: 0 })],
    }),
  );
  g.node!.push(makeNode('Mul', ['heavy_mean', 'heavy_zero'], ['heavy_nil'], 'heavy_nil_mul'));
  const raw = detachOutput(model, output);
  g.node!.push(makeNode('Add', [raw, 'heavy_nil'], [output], 'heavy_add'));
  return encodeModel(model);
}

/**
 * An extra output `balloon` = the sum of a `megabytes`-sized tensor of ones made at run time
 * (ConstantOfShape): a model that asks onnxruntime for that much memory and touches it.
 */
export function addBalloon(bytes: Uint8Array, megabytes: number): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph!;
  g.initializer!.push(int64Tensor('balloon_shape', [megabytes * 262_144]));
  g.node!.push(
    proto.NodeProto.create({
      opType: 'ConstantOfShape',
      input: ['balloon_shape'],
      output: ['balloon_ones'],
      name: 'balloon_fill',
      attribute: [
        proto.AttributeProto.create({ name: 'value', type: 4, t: floatTensor('balloon_value', [1], [1]) }),
      ],
    }),
  );
  g.node!.push(
    proto.NodeProto.create({
      opType: 'ReduceSum',
      input: ['balloon_ones'],
      output: ['balloon'],
      name: 'balloon_sum',
      attribute: [proto.AttributeProto.create({ name: 'keepdims', type: 2, i: 0 })],
    }),
  );
  g.output!.push(proto.ValueInfoProto.create({ name: 'balloon' }));
  return encodeModel(model);
}
