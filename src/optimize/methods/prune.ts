import * as z from '../../zod.js';
import { DerivationError } from '../errors.js';
import { defineMethod, fmt } from './method.js';
import { enumParam, optionalNumberParam } from './params.js';

export const pruneMethod = defineMethod({
  id: 'prune',
  summary: 'magnitude pruning: unstructured (zeros) or structured (Conv channels removed)',
  params: z.pipe(
    z.strictObject({
      mode: enumParam(['unstructured', 'structured'], 'unstructured'),
      sparsity: optionalNumberParam(0.01, 0.95),
    }),
    z.transform((p) => ({ mode: p.mode, sparsity: p.sparsity ?? (p.mode === 'structured' ? 0.1 : 0.3) })),
  ),
  tag: (p) => `prune-${p.mode === 'structured' ? 's' : 'u'}${fmt(p.sparsity)}`,
  apply: async (graph, p) => {
    // Implementations load on first use (the agent imports the registry at start; docs/memory.md).
    if (p.mode === 'unstructured') {
      const { pruneUnstructured } = await import('../transforms/prune-unstructured.js');
      return { details: { ...pruneUnstructured(graph, p.sparsity) } };
    }
    const [{ probeTensors }, { pruneStructured }] = await Promise.all([
      import('../onnx/runtime.js'),
      import('../transforms/prune.js'),
    ]);
    const report = pruneStructured(graph, p.sparsity, (await probeTensors(graph)).shapes);
    if (report.prunedLayers === 0) {
      throw new DerivationError(
        `prune: no Conv layer could lose ${p.sparsity} of its channels (${report.skippedLayers} skipped)`,
      );
    }
    return { details: { ...report } };
  },
});
