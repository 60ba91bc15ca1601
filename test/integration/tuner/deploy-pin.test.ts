import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { TunerController } from '../../../src/tuner/controller.js';
import type { CandidateKey } from '../../../src/tuner/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { addTinyVariant, fixtureProfile, squeezenetModels, tunerRig } from './helpers.js';

/**
 * A deployed variant is pinned: while it serves, re-decisions (memory pressure here; power mode,
 * drift and start alike) choose only its session, never another variant. A deployment's own
 * measurement (`apply: false`) switches nothing. Real measurements in child processes.
 */
describe('the tuner keeps to a deployed variant', () => {
  it('pinned: memory pressure does not move away from it; unpinned (or another variant serving): it does', async () => {
    const models = squeezenetModels({ fp16: false });
    addTinyVariant(models);
    const policy = {
      objective: 'max-accuracy',
      latencyP95Ms: 10_000,
      tuning: { rounds: 2, runsPerRound: 3, warmupRuns: 1, maxThreads: 1 },
    };
    const rig = await tunerRig(models, { policy, profile: await fixtureProfile('x86-laptop') });
    try {
      let active: CandidateKey = { variant: 'fp32', executionProvider: 'cpu', threads: 1 };
      const switches: string[] = [];
      const config = parseConfig({ policy });
      const controller = new TunerController({
        tuner: async () => rig.tuner,
        policy: () => config.policy,
        model: () => 'squeezenet1.1',
        active: () => active,
        switchTo: async (c) => {
          active = c;
          switches.push(c.variant);
          return true;
        },
        cachedDecision: () => undefined,
        clock: new FakeClock(),
      });
      // The deployment measures its variant: a decision among its candidates only, nothing switched.
      const measured = await controller.tune({ trigger: 'deploy', variants: ['fp32'], apply: false });
      expect(new Set(measured?.candidates.map((c) => c.variant))).toEqual(new Set(['fp32']));
      expect(switches).toEqual([]);
      expect(controller.current()).toBeUndefined();
      await controller.tune({ trigger: 'fill the cache', variants: ['tiny'], apply: false });
      // Adopted (the deployment switched), then reinstated (it rolled back): the earlier decision again.
      await controller.adopt(measured!, 'deploy: tuned');
      expect(controller.current()).toBe(measured);
      controller.reinstate(undefined);
      expect(controller.current()).toBeUndefined();

      controller.pin('squeezenet1.1', 'fp32');
      expect(controller.pinned('squeezenet1.1')).toEqual(['fp32']);
      const fp32Bytes = measured!.candidates.find((c) => c.variant === 'fp32')!.memoryBytes!;
      controller.onMemoryPressure(true, Math.round(fp32Bytes / 2));
      await controller.settled();
      expect(active.variant).toBe('fp32'); // pinned: the deployed variant stays
      expect(controller.current()?.candidates.every((c) => c.variant === 'fp32')).toBe(true);

      controller.pin('squeezenet1.1', undefined);
      controller.onMemoryPressure(true, Math.round(fp32Bytes / 2));
      await controller.settled();
      expect(active.variant).toBe('tiny'); // not pinned: the smaller variant fits

      // A pin lapses while another variant serves (set-model, rollback-model).
      controller.pin('squeezenet1.1', 'fp32');
      expect(controller.pinned('squeezenet1.1')).toBeUndefined();
    } finally {
      await rig.close();
    }
  }, 180_000);
});
