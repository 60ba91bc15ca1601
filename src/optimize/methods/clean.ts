import { defineMethod } from './method.js';
import { noParams } from './params.js';

/** Only the lossless graph hygiene every derivation starts with (`transforms/clean.ts`). */
export const cleanMethod = defineMethod({
  id: 'clean',
  summary: 'lossless graph hygiene only (weights no longer listed as inputs, dead nodes removed)',
  params: noParams,
  tag: () => 'clean',
  apply: async () => ({}),
});
