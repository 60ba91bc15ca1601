import * as z from '../../zod.js';
import { defineMethod } from './method.js';
import { booleanParam } from './params.js';

export const int8WeightsMethod = defineMethod({
  id: 'int8-weights',
  summary: 'weight-only int8 (per-channel), activations stay float; no calibration',
  params: z.strictObject({ reduceRange: booleanParam(false) }),
  tag: (p) => (p.reduceRange ? 'int8w-7bit' : 'int8w'),
  apply: async (graph, p) => {
    // Implementations load on first use (the agent imports the registry at start; docs/memory.md).
    const [
      { probeTensors },
      { quantizeWeightsOnly },
      { compactConstants },
      { foldBatchNorms },
      { upgradeOpset },
    ] = await Promise.all([
      import('../onnx/runtime.js'),
      import('../quantize/weights.js'),
      import('../transforms/constants.js'),
      import('../transforms/fold.js'),
      import('../transforms/opset.js'),
    ]);
    const probe = await probeTensors(graph);
    upgradeOpset(graph, 13, (t) => probe.shapes.get(t)?.length);
    const foldedBatchNorms = foldBatchNorms(graph);
    const report = quantizeWeightsOnly(graph, p.reduceRange);
    return {
      precision: 'int8',
      details: { foldedBatchNorms, ...report, constants: compactConstants(graph) },
    };
  },
});
