import { DerivationError } from '../errors.js';
import { attr, attrBigInts, attrInt, attrInts, removeAttr, uniqueNamer } from '../onnx/graph.js';
import { defaultOpset, type ModelProto, type NodeProto, setDefaultOpset, toNum } from '../onnx/onnx-io.js';
import { floatTensor, int64Tensor } from '../onnx/tensor.js';

/**
 * Ops whose definition changed between opset 9 and 13 in a way that needs a rewrite. Anything not
 * listed here and not refused below kept its meaning (the default-domain ops of the bundled models).
 */
const REFUSED: Record<string, (node: NodeProto, from: number) => string | undefined> = {
  Upsample: () => 'Upsample was removed in opset 10 (use Resize)',
  Resize: (_n, from) => (from < 11 ? 'Resize changed its inputs in opset 11' : undefined),
  Pad: (_n, from) => (from < 11 ? 'Pad moved pads to an input in opset 11' : undefined),
  TopK: (_n, from) => (from < 10 ? 'TopK moved k to an input in opset 10' : undefined),
  Dropout: (_n, from) => (from < 12 ? 'Dropout changed in opset 12' : undefined),
  Scan: () => 'Scan changed in opset 11',
};

/**
 * Raises the default-domain opset to `target` (13: per-channel DequantizeLinear needs the `axis`
 * attribute), rewriting the ops that moved attributes to inputs. In place. Raising YOLOX from 11
 * to 13 leaves its outputs unchanged; ops this cannot rewrite are refused with the reason.
 */
export function upgradeOpset(
  model: ModelProto,
  target = 13,
  rankOf?: (tensor: string) => number | undefined,
): void {
  const from = defaultOpset(model);
  if (from >= target) return;
  if (from < 9)
    throw new DerivationError(`opset ${from} is older than 9; re-export the model with opset ≥ 11`);
  const graph = model.graph!;
  const name = uniqueNamer(graph);
  for (const node of graph.node ?? []) {
    if ((node.domain ?? '') !== '' && node.domain !== 'ai.onnx') continue;
    const refusal = REFUSED[node.opType ?? '']?.(node, from);
    if (refusal) {
      throw new DerivationError(
        `cannot raise opset ${from} → ${target} for node "${node.name}": ${refusal}; re-export the model with opset ≥ 13`,
      );
    }
    const moveInts = (attrName: string, slot: number) => {
      const values = attrBigInts(node, attrName);
      if (values === undefined) return;
      const t = int64Tensor(name(`${node.name || node.opType}_${attrName}`), [values.length], values);
      graph.initializer!.push(t);
      const inputs = [...(node.input ?? [])];
      while (inputs.length < slot) inputs.push('');
      inputs[slot] = t.name!;
      node.input = inputs;
      removeAttr(node, attrName);
    };
    switch (node.opType) {
      case 'Squeeze':
      case 'Unsqueeze':
      case 'ReduceSum':
        if (from < 13) moveInts('axes', 1);
        break;
      case 'Split':
        if (from < 13) moveInts('split', 1);
        break;
      case 'Slice':
        if (from < 10) {
          const axes = attrInts(node, 'axes');
          moveInts('starts', 1);
          moveInts('ends', 2);
          if (axes) moveInts('axes', 3);
        }
        break;
      case 'Clip':
        if (from < 11) {
          const inputs = [...(node.input ?? [])];
          for (const [slot, key, fallback] of [
            [1, 'min', -3.4028234663852886e38],
            [2, 'max', 3.4028234663852886e38],
          ] as const) {
            const a = attr(node, key);
            const t = floatTensor(name(`${node.name || 'Clip'}_${key}`), [], [a?.f ?? fallback]);
            graph.initializer!.push(t);
            inputs[slot] = t.name!;
            removeAttr(node, key);
          }
          node.input = inputs;
        }
        break;
      case 'Softmax':
      case 'LogSoftmax':
      case 'Hardmax': {
        // Before 13 these flattened to 2-D at `axis`; the same as 13 only when axis is the last one.
        if (from >= 13) break;
        const axis = attrInt(node, 'axis', 1);
        const rank = rankOf?.(node.input?.[0] ?? '');
        const last = axis === -1 || (rank !== undefined && (axis === rank - 1 || axis === -1));
        if (!last) {
          throw new DerivationError(
            `cannot raise opset ${from} → ${target}: ${node.opType} "${node.name}" on axis ${axis} of a rank-${rank ?? '?'} tensor changes meaning`,
          );
        }
        break;
      }
      default:
        break;
    }
  }
  setDefaultOpset(model, target);
  if (toNum(model.irVersion) < 7) model.irVersion = 7;
}
