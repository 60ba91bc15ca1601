import * as z from '../../zod.js';
import { DEFAULT_FP16_BLOCK_LIST } from '../transforms/fp16-block-list.js';
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
  z.pipe(
    z._default(z.array(z.string()), [...DEFAULT_FP16_BLOCK_LIST]),
    z.transform((list) => [...list].sort()),
  ),
);

export const fp16Method = defineMethod({
  id: 'fp16',
  summary: 'float16 weights and activations, numerically fragile ops kept float32',
  params: z.strictObject({ blockList }),
  tag: (p) => (p.blockList.join(',') === STANDARD_BLOCK_LIST ? 'fp16' : `fp16-b${p.blockList.length}`),
  apply: async (graph, p) => {
    // Implementations load on first use (the agent imports the registry at start; docs/memory.md).
    const [{ probeTensors }, { convertToFp16 }] = await Promise.all([
      import('../onnx/runtime.js'),
      import('../transforms/fp16.js'),
    ]);
    const probe = await probeTensors(graph);
    return { precision: 'fp16', details: { ...convertToFp16(graph, probe.types, p.blockList) } };
  },
});
