import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { OnnxFormatError } from '../../../../src/optimize/errors.js';
import { inspectModel } from '../../../../src/optimize/onnx/inspect.js';
import { cloneModel, decodeModel, encodeModel, proto } from '../../../../src/optimize/onnx/onnx-io.js';
import {
  floatToHalf,
  halfToFloat,
  int64Tensor,
  readFloats,
  readInts,
} from '../../../../src/optimize/onnx/tensor.js';

const root = path.resolve(import.meta.dirname, '../../../..');
const squeezenet = readFileSync(path.join(root, 'models/squeezenet1.1/squeezenet1.1.onnx'));
const ultraface = readFileSync(path.join(root, 'models/ultraface/ultraface_version-RFB-320.onnx'));

describe('decodeModel', () => {
  it('round-trips a model to identical bytes', () => {
    const model = decodeModel(squeezenet);
    const once = encodeModel(model);
    expect(Buffer.from(encodeModel(decodeModel(once))).equals(Buffer.from(once))).toBe(true);
  });

  it('reads rawData through its byteOffset (a view into the file)', () => {
    const model = decodeModel(squeezenet);
    const w = model.graph!.initializer!.find((t) => t.name === 'squeezenet0_conv0_weight')!;
    expect(w.rawData!.byteOffset).toBeGreaterThan(0);
    const values = readFloats(w);
    expect(values.length).toBe(64 * 3 * 3 * 3);
    // The view shares the file's memory: reading its buffer from 0 would read the file header.
    expect(w.rawData!.buffer).toBe(squeezenet.buffer);
    const view = new DataView(w.rawData!.buffer, w.rawData!.byteOffset);
    expect(values[5]).toBe(view.getFloat32(20, true));
    expect(values[5]).not.toBe(new DataView(w.rawData!.buffer).getFloat32(20, true));
  });

  it('refuses an empty file, a truncated file and a JPEG with a clear error', () => {
    expect(() => decodeModel(new Uint8Array(0), 'x.onnx')).toThrow(/empty file/);
    expect(() => decodeModel(squeezenet.subarray(0, squeezenet.length / 2), 'half.onnx')).toThrow(
      OnnxFormatError,
    );
    expect(() => decodeModel(squeezenet.subarray(0, squeezenet.length / 2), 'half.onnx')).toThrow(
      /half.onnx/,
    );
    const jpeg = readFileSync(path.join(root, 'samples/rocket.jpg'));
    expect(() => decodeModel(jpeg, 'rocket.jpg')).toThrow(OnnxFormatError);
  });

  it('refuses a model with external data', () => {
    const model = decodeModel(squeezenet);
    const t = model.graph!.initializer![0]!;
    t.rawData = new Uint8Array(0);
    t.dataLocation = 1;
    t.externalData = [proto.StringStringEntryProto.create({ key: 'location', value: '../../etc/passwd' })];
    expect(() => decodeModel(encodeModel(model), 'ext.onnx')).toThrow(/external data file/);
  });
});

describe('inspectModel', () => {
  it('reports opset, ops, parameters and initializers listed as inputs', () => {
    const info = inspectModel(decodeModel(ultraface));
    expect(info.opset).toBe(9);
    expect(info.irVersion).toBe(4);
    expect(info.ops.Conv).toBe(52);
    expect(info.initializerInputs).toBe(244);
    expect(info.parameterCount).toBeGreaterThan(200_000);
    expect(info.flops).toBeUndefined();
    expect(info.outputs).toEqual([{ name: 'scores' }, { name: 'boxes' }]);
    expect(info.inputs[0]).toEqual({ name: 'input', dtype: 'float32', dims: [1, 3, 240, 320] });
  });

  it('computes Conv FLOPs from shapes', () => {
    const model = decodeModel(squeezenet);
    const first = model.graph!.node![0]!;
    const shapes = new Map([[first.output![0]!, [1, 64, 111, 111]]]);
    // One conv: 64 output channels × 111² positions × 3·3·3 MACs × 2.
    expect(inspectModel(model, shapes).flops).toBe(2 * 64 * 111 * 111 * 27);
  });

  it('clones without sharing state', () => {
    const model = decodeModel(squeezenet);
    const copy = cloneModel(model);
    copy.graph!.node!.pop();
    expect(model.graph!.node!.length).toBe(copy.graph!.node!.length + 1);
  });
});

describe('tensors', () => {
  it('converts float16 both ways with round-to-nearest', () => {
    for (const v of [0, 1, -2.5, 65504, 0.1, 1e-6]) {
      const back = halfToFloat(floatToHalf(v));
      expect(Math.abs(back - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 6e-8);
    }
    expect(halfToFloat(floatToHalf(1e6))).toBe(Number.POSITIVE_INFINITY);
  });

  it('keeps int64 values beyond 2^53 exact', () => {
    const t = int64Tensor('ends', [2], [9223372036854775807n, -1]);
    const view = new DataView(t.rawData!.buffer);
    expect(view.getBigInt64(0, true)).toBe(9223372036854775807n);
    expect(readInts(t)[1]).toBe(-1);
  });
});
