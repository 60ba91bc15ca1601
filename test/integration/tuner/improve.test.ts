import { afterEach, describe, expect, it } from 'vitest';
import type { TuneProgress } from '../../../src/tuner/measure.js';
import { MODELS } from '../../helpers/paths.js';
import { type TunerRig, tunerRig } from './helpers.js';

const rigs: TunerRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

const policy = {
  objective: 'max-accuracy',
  latencyP95Ms: 60_000,
  fidelityFloor: 0,
  tuning: { rounds: 2, runsPerRound: 4, warmupRuns: 1, maxThreads: 1, fidelityFrames: 8 },
};

describe('the tuner derives a cheaper equal of its choice (input-uint8), met or not', () => {
  it('UltraFace slim-320 is normalised in JavaScript every frame: slim-320_u8in is derived, measured as the pipeline prepares it (zero-copy), and its fidelity is the same; a second tune derives nothing', async () => {
    const rig = await tunerRig(MODELS, { policy });
    rigs.push(rig);
    const progress: TuneProgress[] = [];
    const d = await rig.tuner.tune({
      model: 'ultraface',
      variants: ['slim-320'],
      onProgress: (p) => progress.push(p),
    });
    expect(d.met).toBe(true);
    expect(d.derived).toEqual(['slim-320_u8in']);
    expect(progress).toContainEqual({ stage: 'derive', method: 'input-uint8', variant: 'slim-320_u8in' });
    const by = (id: string) => d.candidates.find((c) => c.variant === id)!;
    const float = by('slim-320');
    const bytes = by('slim-320_u8in');
    // Prepared as the pipeline does: the float variant from gbrp planes with a normalising pass; the
    // derived one takes uint8 NHWC, so the capture's interleaved frame is its tensor.
    expect(float.preparePath).toBe('planes');
    expect(bytes.preparePath).toBe('zero-copy');
    for (const c of [float, bytes]) {
      expect(c.status, c.variant).toBe('ok');
      expect(c.prepareMs!, c.variant).toBeGreaterThan(0);
      expect(c.prepareMs!, c.variant).toBeLessThan(c.latencyMs!.mean);
      expect(c.fidelityReference, c.variant).toBe('rfb-640');
    }
    expect(Math.abs(bytes.fidelity! - float.fidelity!)).toBeLessThanOrEqual(0.01);
    expect(['slim-320', 'slim-320_u8in']).toContain(d.chosen?.variant);

    const catalog = await rig.reload();
    const derived = catalog.model('ultraface').variants.find((v) => v.id === 'slim-320_u8in')!;
    expect(derived.derived).toBe(true);
    expect(derived.input?.dtype).toBe('uint8');

    const again = await rig.tuner.tune({ model: 'ultraface', variants: ['slim-320', 'slim-320_u8in'] });
    expect(again.derived).toEqual([]);
    expect(again.candidates.every((c) => c.cached === true)).toBe(true);
  }, 240_000);

  it('on the lean runtime the measuring children run lean too, and their figures are cached apart from the JIT ones', async () => {
    const rig = await tunerRig(MODELS, { policy, deps: { measureNodeArgs: ['--lite-mode'] } });
    rigs.push(rig);
    const lean = await rig.tuner.tune({ model: 'ultraface', variants: ['slim-320'], derive: 'never' });
    expect(lean.candidates).toEqual([
      expect.objectContaining({ variant: 'slim-320', status: 'ok', lean: true }),
    ]);
    // The same store, a tuner on the JIT (children without the flag): measured again, not read from the cache.
    const jit = await tunerRig(MODELS, { policy, dataDir: rig.dataDir, deps: { measureNodeArgs: [] } });
    rigs.push(jit);
    const d = await jit.tuner.tune({ model: 'ultraface', variants: ['slim-320'], derive: 'never' });
    expect(d.candidates[0]!.cached).toBeUndefined();
    expect(d.candidates[0]!.lean).toBeUndefined();
    expect(d.candidates[0]!.status).toBe('ok');
  }, 120_000);

  it('derive never: nothing is derived', async () => {
    const rig = await tunerRig(MODELS, { policy });
    rigs.push(rig);
    const d = await rig.tuner.tune({ model: 'ultraface', variants: ['slim-320'], derive: 'never' });
    expect(d.derived).toEqual([]);
    expect(d.candidates.map((c) => c.variant)).toEqual(['slim-320']);
  }, 120_000);
});
