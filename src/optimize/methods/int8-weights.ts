import { z } from 'zod';
import { probeTensors } from '../onnx/runtime.js';
import { quantizeWeightsOnly } from '../quantize/weights.js';
import { compactConstants } from '../transforms/constants.js';
import { foldBatchNorms } from '../transforms/fold.js';
import { upgradeOpset } from '../transforms/opset.js';
import { defineMethod } from './method.js';
import { booleanParam } from './params.js';

export const int8WeightsMethod = defineMethod({
  id: 'int8-weights',
  summary: 'weight-only int8 (per-channel), activations stay float; no calibration',
  params: z.strictObject({ reduceRange: booleanParam(false) }),
  tag: (p) => (p.reduceRange ? 'int8w-7bit' : 'int8w'),
  apply: async (graph, p) => {
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
