import { attrFloat, attrInt, GraphIndex, removeUnused } from '../onnx/graph.js';
import { DataType, type ModelProto } from '../onnx/onnx-io.js';
import { dimsOf, elementCount, floatTensor, readFloats } from '../onnx/tensor.js';

/**
 * Folds BatchNormalization into the Conv before it (w' = w·γ/σ, b' = (b − μ)·γ/σ + β) so the
 * quantizer sees one op: Q/DQ between Conv and BN would stop onnxruntime fusing either. In place.
 * onnxruntime does the same fold itself on float graphs; the outputs differ by float rounding only.
 */
export function foldBatchNorms(model: ModelProto): number {
  const graph = model.graph!;
  let folded = 0;
  for (const bn of [...(graph.node ?? [])]) {
    if (bn.opType !== 'BatchNormalization' || (bn.output ?? []).filter((o) => o).length !== 1) continue;
    const index = new GraphIndex(graph);
    const x = bn.input?.[0] ?? '';
    const conv = index.producer.get(x);
    if (conv?.opType !== 'Conv' || index.consumersOf(x).length !== 1 || index.graphOutputs.has(x)) continue;
    const params = [1, 2, 3, 4].map((i) => index.initializers.get(bn.input?.[i] ?? ''));
    const w = index.initializers.get(conv.input?.[1] ?? '');
    const b = conv.input?.[2] ? index.initializers.get(conv.input[2]) : undefined;
    if (params.some((p) => !p || p.dataType !== DataType.FLOAT) || !w || w.dataType !== DataType.FLOAT)
      continue;
    if (index.consumersOf(w.name ?? '').length !== 1 || (b && index.consumersOf(b.name ?? '').length !== 1))
      continue;
    const [gamma, beta, mean, variance] = params.map((p) => readFloats(p!));
    const eps = attrFloat(bn, 'epsilon', 1e-5);
    const dims = dimsOf(w);
    const m = dims[0]!;
    if (attrInt(bn, 'training_mode', 0) !== 0 || gamma!.length !== m) continue;
    const per = elementCount(dims.slice(1));
    const weights = readFloats(w);
    const bias = b ? readFloats(b) : new Float32Array(m);
    for (let c = 0; c < m; c++) {
      const k = gamma![c]! / Math.sqrt(variance![c]! + eps);
      for (let i = 0; i < per; i++) weights[c * per + i]! *= k;
      bias[c] = (bias[c]! - mean![c]!) * k + beta![c]!;
    }
    const list = graph.initializer!;
    list[list.indexOf(w)] = floatTensor(w.name ?? '', dims, weights);
    const biasTensor = floatTensor(b?.name ?? `${w.name}_folded_bias`, [m], bias);
    if (b) list[list.indexOf(b)] = biasTensor;
    else list.push(biasTensor);
    conv.input = [conv.input![0]!, conv.input![1]!, biasTensor.name!];
    conv.output = [bn.output![0]!];
    graph.node = (graph.node ?? []).filter((n) => n !== bn);
    folded++;
  }
  removeUnused(graph);
  return folded;
}
