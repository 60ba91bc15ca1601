import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../../../src/models/catalog.js';
import { chooseImprovements } from '../../../src/tuner/derive-plan.js';
import type { CandidateVerdict, Constraints } from '../../../src/tuner/types.js';
import { MODELS } from '../../helpers/paths.js';

const constraints: Constraints = {
  objective: 'max-accuracy',
  latencyP95Ms: 15,
  fidelityFloor: 0.7,
  switchMarginPercent: 5,
};
/** A selection that chose `variant` (or nothing), with these measured candidates. */
const chosen = (variant: string | null, candidates: CandidateVerdict[] = []) => ({
  chosen: variant === null ? null : { variant, executionProvider: 'cpu', threads: 1 },
  candidates,
  constraints,
});
/** A measured candidate with its p95, preparation share and the constraints it breaks. */
const measured = (
  variant: string,
  p95: number,
  prepareMs: number,
  violations: string[],
): CandidateVerdict => ({
  variant,
  executionProvider: 'cpu',
  threads: 1,
  variantSha256: '0'.repeat(64),
  sizeBytes: 1,
  precision: 'fp32',
  status: 'ok',
  latencyMs: { p50: p95, p95, p99: p95, mean: p95, roundP95: [p95] },
  prepareMs,
  cpuMsPerInference: p95,
  fidelity: 0.8,
  verdict: violations.length ? 'violates' : 'feasible',
  reason: '',
  violations,
});

describe('chooseImprovements: a cheaper equal of the chosen variant', () => {
  it('derives input-uint8 of a chosen variant the pipeline normalises in JavaScript, from that variant', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    const ultraface = catalog.model('ultraface');
    expect(chooseImprovements(ultraface, chosen('slim-320'))).toEqual([
      expect.objectContaining({ method: 'input-uint8', source: 'slim-320', id: 'slim-320_u8in', params: {} }),
    ]);
    // A variant with its own input size (RFB-640: 640×480) is still a float NCHW input with a mean/std.
    expect(chooseImprovements(ultraface, chosen('rfb-640')).map((j) => j.id)).toEqual(['rfb-640_u8in']);
    const squeezenet = catalog.model('squeezenet1.1');
    expect(chooseImprovements(squeezenet, chosen('fp16')).map((j) => j.source)).toEqual(['fp16']);
  });

  it('nothing for a model whose input is copied, not normalised (YOLOX takes 0–255 floats), an unknown or absent choice, or an existing derivation', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    expect(chooseImprovements(catalog.model('yolox-nano'), chosen('fp32'))).toEqual([]);
    const ultraface = catalog.model('ultraface');
    expect(chooseImprovements(ultraface, chosen(null))).toEqual([]);
    expect(chooseImprovements(ultraface, chosen('no-such-variant'))).toEqual([]);
    const slim = ultraface.variants.find((v) => v.id === 'slim-320')!;
    const withDerived = {
      ...ultraface,
      variants: [
        ...ultraface.variants,
        { ...slim, id: 'slim-320_u8in', input: { dtype: 'uint8' as const }, derived: true },
      ],
    };
    expect(chooseImprovements(withDerived, chosen('slim-320'))).toEqual([]);
    // The derived one takes bytes: nothing further to derive from it.
    expect(chooseImprovements(withDerived, chosen('slim-320_u8in'))).toEqual([]);
  });

  it('also for a variant that misses only the latency budget', async () => {
    // On the lean runtime slim-320's interpreted normalising loop is 12 of its 25 ms (measured).
    const ultraface = (await loadCatalog({ modelsDir: MODELS })).model('ultraface');
    const jobs = chooseImprovements(
      ultraface,
      chosen('rfb-640', [
        measured('slim-320', 25, 12, ['p95 25 ms > budget 15 ms']),
        // Below the fidelity floor as well: camera bytes would not make it fit.
        measured('rfb-320', 25, 12, ['p95 25 ms > budget 15 ms', 'fidelity 0.639 < floor 0.7']),
        measured('rfb-640', 14, 1, []),
      ]),
    );
    expect(jobs.map((j) => j.id).sort()).toEqual(['rfb-640_u8in', 'slim-320_u8in']);
    // Over the memory budget too: not derived either.
    const alsoMemory = chooseImprovements(
      ultraface,
      chosen(null, [
        measured('slim-320', 25, 12, ['p95 25 ms > budget 15 ms', 'memory 90 MB > budget 64 MB']),
      ]),
    );
    expect(alsoMemory).toEqual([]);
  });
});
