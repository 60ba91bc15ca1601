import { z } from 'zod';
import { probeTensors } from '../onnx/runtime.js';
import { convertToFp16, DEFAULT_FP16_BLOCK_LIST } from '../transforms/fp16.js';
import { defineMethod } from './method.js';

const STANDARD_BLOCK_LIST = [...DEFAULT_FP16_BLOCK_LIST].sort().join(',');

/** Op types kept in float32: a list or a comma-separated string; sorted, so the order never matters. */
const blockList = z.preprocess(
  (v) =>
    v === null || v === undefined
      ? undefined
      : Array.isArray(v)
        ? v.map(String)
        : String(v).split(',').filter(Boolean),
  z
    .array(z.string())
    .default([...DEFAULT_FP16_BLOCK_LIST])
    .transform((list) => [...list].sort()),
);

export const fp16Method = defineMethod({
  id: 'fp16',
  summary: 'float16 weights and activations, numerically fragile ops kept float32',
  params: z.strictObject({ blockList }),
  tag: (p) => (p.blockList.join(',') === STANDARD_BLOCK_LIST ? 'fp16' : `fp16-b${p.blockList.length}`),
  apply: async (graph, p) => {
    const probe = await probeTensors(graph);
    return { precision: 'fp16', details: { ...convertToFp16(graph, probe.types, p.blockList) } };
  },
});
