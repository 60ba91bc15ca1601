import * as z from '../../zod.js';
import { DerivationError } from '../errors.js';
import { defineMethod, fmt } from './method.js';
import { numberParam } from './params.js';

export const lowrankMethod = defineMethod({
  id: 'lowrank',
  summary: 'low-rank (SVD) factorisation of Conv/Gemm weights keeping a share of the energy',
  params: z.strictObject({
    energy: numberParam(0.99, 0.5, 1),
    maxParamRatio: numberParam(0.8, 0.05, 1),
  }),
  tag: (p) => `lowrank-e${fmt(p.energy)}`,
  apply: async (graph, p, ctx) => {
    // Implementations load on first use (the agent imports the registry at start; docs/memory.md).
    const { factorizeLowRank } = await import('../transforms/lowrank.js');
    const report = factorizeLowRank(graph, {
      energy: p.energy,
      maxParamRatio: p.maxParamRatio,
      signal: ctx.signal,
      onLayer: (done, total) => ctx.onProgress?.({ stage: 'derive', done, total, message: 'SVD' }),
    });
    if (report.factorizedLayers === 0) {
      throw new DerivationError(
        `lowrank: at energy ${p.energy} no layer gets a rank small enough to save parameters ` +
          `(≤ ${p.maxParamRatio} of ${report.keptLayers} candidate layers' weights); lower the energy`,
      );
    }
    return { details: { ...report } };
  },
});
