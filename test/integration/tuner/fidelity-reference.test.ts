import { afterEach, describe, expect, it } from 'vitest';
import { MODELS } from '../../helpers/paths.js';
import { type TunerRig, tunerRig } from './helpers.js';

const rigs: TunerRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

describe('a common fidelity reference (UltraFace: three separate exports)', () => {
  it('measures slim-320 and RFB-320 against RFB-640 on the bundled samples (image-space detections by IoU), so max-accuracy can tell them apart', async () => {
    const rig = await tunerRig(MODELS, {
      policy: {
        objective: 'max-accuracy',
        latencyP95Ms: 60_000,
        fidelityFloor: 0,
        tuning: { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1, fidelityFrames: 8 },
      },
    });
    rigs.push(rig);
    const d = await rig.tuner.tune({ model: 'ultraface', derive: 'never' });
    const by = (id: string) => d.candidates.find((c) => c.variant === id)!;
    expect(by('rfb-640')).toMatchObject({ fidelity: 1, fidelitySource: 'reference' });
    for (const id of ['slim-320', 'rfb-320']) {
      const c = by(id);
      expect(c.fidelitySource, id).toBe('measured');
      expect(c.fidelityReference, id).toBe('rfb-640');
      expect(c.fidelity!, id).toBeGreaterThan(0.3); // the same faces, mostly
      expect(c.fidelity!, id).toBeLessThan(1); // but not all of them at 320×240
    }
    // Before, all three were their own reference (fidelity 1) and the fastest won the tie.
    expect(d.chosen?.variant).toBe('rfb-640');
    expect(d.reason).toMatch(/^rfb-640@cpu\/1t: best max-accuracy/);

    // Without RFB-640 among the candidates, the fidelity is still against it (from the cache):
    // the better of the two 320 exports is chosen, not the faster.
    const small = await rig.tuner.tune({
      model: 'ultraface',
      derive: 'never',
      variants: ['slim-320', 'rfb-320'],
    });
    const best = ['slim-320', 'rfb-320'].sort((a, b) => by(b).fidelity! - by(a).fidelity!)[0];
    expect(by('slim-320').fidelity).not.toBe(by('rfb-320').fidelity);
    expect(small.chosen?.variant).toBe(best);
    expect(small.candidates.every((c) => c.fidelityReference === 'rfb-640')).toBe(true);
  }, 240_000);
});
