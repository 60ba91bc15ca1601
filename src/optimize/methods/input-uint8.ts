import { defineMethod } from './method.js';
import { noParams } from './params.js';

export const inputUint8Method = defineMethod({
  id: 'input-uint8',
  summary: 'the model takes uint8 NHWC pixels and normalises inside the graph (lossless)',
  params: noParams,
  tag: () => 'u8in',
  apply: async (graph, _params, ctx) => {
    // Implementations load on first use (the agent imports the registry at start; docs/memory.md).
    const { prependUint8Input } = await import('../transforms/input-uint8.js');
    return { input: prependUint8Input(graph, ctx.sourceSpec, ctx.sourceInput) };
  },
});
