import { readFileSync } from 'node:fs';
import path from 'node:path';
import type * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { optimizedKernels } from '../../../src/optimize/derive.js';
import { makeNode } from '../../../src/optimize/onnx/graph.js';
import {
  AttrType,
  cloneModel,
  DataType,
  decodeModel,
  encodeModel,
  type ModelProto,
  type NodeProto,
  proto,
} from '../../../src/optimize/onnx/onnx-io.js';
import { sessionFor, zeroFeeds } from '../../../src/optimize/onnx/runtime.js';
import { floatTensor } from '../../../src/optimize/onnx/tensor.js';
import { cleanModel } from '../../../src/optimize/transforms/clean.js';
import { compactConstants } from '../../../src/optimize/transforms/constants.js';
import { modelsDir } from './helpers.js';

const N = 4096;

function constantNode(name: string, values: Float32Array): NodeProto {
  return makeNode('Constant', [], [name], `${name}_node`, [
    proto.AttributeProto.create({
      name: 'value',
      type: AttrType.TENSOR,
      t: floatTensor(name, [1, N], values),
    }),
  ]);
}

/** y = ((x + grid) · gridCopy + fine) · unique — four [1, N] float constants of different kinds. */
function model(): ModelProto {
  const grid = Float32Array.from({ length: N }, (_, i) => ((i % 40) + 0.5) / 40); // 40 distinct
  const fine = Float32Array.from({ length: N }, (_, i) => Math.fround(Math.sin(i % 1000) * 1e-3)); // 1000 distinct
  const unique = Float32Array.from({ length: N }, (_, i) => 1 + i * 1e-4); // all distinct
  const info = (name: string) =>
    proto.ValueInfoProto.create({
      name,
      type: proto.TypeProto.create({
        tensorType: proto.TypeProto.Tensor.create({
          elemType: DataType.FLOAT,
          shape: proto.TensorShapeProto.create({
            dim: [proto.TensorShapeProto.Dimension.create({ dimValue: 1 }), { dimValue: N }],
          }),
        }),
      }),
    });
  return proto.ModelProto.create({
    irVersion: 7,
    opsetImport: [proto.OperatorSetIdProto.create({ domain: '', version: 13 })],
    graph: proto.GraphProto.create({
      name: 'constants',
      input: [info('x')],
      output: [info('y')],
      initializer: [floatTensor('fine', [1, N], fine), floatTensor('unique', [1, N], unique)],
      node: [
        constantNode('grid', grid),
        constantNode('gridCopy', grid.slice()),
        makeNode('Add', ['x', 'grid'], ['a'], 'add'),
        makeNode('Mul', ['a', 'gridCopy'], ['b'], 'mul'),
        makeNode('Add', ['b', 'fine'], ['c'], 'add2'),
        makeNode('Mul', ['c', 'unique'], ['y'], 'mul2'),
      ],
    }),
  });
}

async function run(m: ModelProto): Promise<Float32Array> {
  const feeds = zeroFeeds(m);
  const x = feeds.x!.data as Float32Array;
  for (let i = 0; i < x.length; i++) x[i] = Math.cos(i * 0.37) * 3;
  const session = await sessionFor(encodeModel(m));
  try {
    return (await session.run(feeds)).y!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('compactConstants', { timeout: 60_000 }, () => {
  it('merges identical constants and palettes few-valued ones, with bit-identical outputs', async () => {
    const source = model();
    const compacted = cloneModel(source);
    const report = compactConstants(compacted);
    expect(report.deduplicated).toBe(1); // gridCopy
    expect(report.paletted).toBe(2); // grid (uint8 indices) and fine (uint16 indices); unique stays
    expect(report.bytesBefore).toBe(4 * 4 * N);
    expect(report.bytesAfter).toBe(4 * 40 + N + (4 * 1000 + 2 * N) + 4 * N);
    const types = new Set(
      compacted.graph!.node!.filter((n) => n.opType === 'Constant').map((n) => n.attribute![0]!.t!.dataType),
    );
    expect(types).toEqual(new Set([DataType.FLOAT, DataType.UINT8, DataType.UINT16]));
    expect(encodeModel(compacted).length).toBeLessThan(0.6 * encodeModel(source).length);
    const [a, b] = [await run(source), await run(compacted)];
    expect(Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toEqual(
      Buffer.from(a.buffer, a.byteOffset, a.byteLength),
    );
    // onnxruntime folds Cast + Gather when it loads the session: the running graph is unchanged.
    const kernels = await optimizedKernels(encodeModel(compacted));
    expect(kernels.Gather ?? 0).toBe(0);
    expect(kernels.Cast ?? 0).toBe(0);
    // Deterministic: compacting a second copy gives the same bytes.
    const again = cloneModel(source);
    compactConstants(again);
    expect(Buffer.from(encodeModel(again)).equals(Buffer.from(encodeModel(compacted)))).toBe(true);
  });

  it('leaves graph outputs and quantization parameters alone, and does nothing when nothing pays', () => {
    const m = model();
    m.graph!.node = m.graph!.node!.filter((n) => n.output![0] !== 'gridCopy');
    m.graph!.node!.find((n) => n.name === 'mul')!.input = ['a', 'grid'];
    m.graph!.output!.push(proto.ValueInfoProto.create({ name: 'grid' }));
    m.graph!.initializer = m.graph!.initializer!.filter((t) => t.name !== 'fine');
    m.graph!.node!.find((n) => n.name === 'add2')!.input = ['b', 'b'];
    const report = compactConstants(m);
    expect(report).toEqual({ deduplicated: 0, paletted: 0, bytesBefore: 4 * N, bytesAfter: 4 * N });
  });

  it('UltraFace: its 106 KB of anchor priors shrink to 24 KB and the outputs stay bit-identical', async () => {
    const source = decodeModel(
      readFileSync(path.join(modelsDir, 'ultraface/ultraface_version-RFB-320.onnx')),
    );
    cleanModel(source);
    const compacted = cloneModel(source);
    const report = compactConstants(compacted);
    expect(report.deduplicated).toBe(1); // the prior sizes are stored twice
    expect(report.paletted).toBe(2);
    // The weights are float constants too, but almost every value is distinct: they stay as they are.
    const saved = report.bytesBefore - report.bytesAfter;
    expect(saved).toBeGreaterThan(80_000);
    expect(encodeModel(source).length - encodeModel(compacted).length).toBeGreaterThan(saved - 1000);
    const feeds = zeroFeeds(source);
    const x = feeds.input!.data as Float32Array;
    for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.013);
    const outputsOf = async (m: ModelProto) => {
      const session = await sessionFor(encodeModel(m));
      try {
        const r = await session.run(feeds);
        return ['boxes', 'scores'].map((k) => Buffer.from((r[k] as ort.Tensor).data as Float32Array));
      } finally {
        await session.release();
      }
    };
    expect(await outputsOf(compacted)).toEqual(await outputsOf(source));
  });
});
