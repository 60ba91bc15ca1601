import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { agentDerivation } from '../../../src/features/derive.js';
import { silentLogger } from '../../../src/log.js';
import type { BurstStats } from '../../../src/tuner/burst.js';
import { TunerController } from '../../../src/tuner/controller.js';
import type { BurstGate } from '../../../src/tuner/measure.js';
import { MeasureProcess } from '../../../src/tuner/measure-process.js';
import { latestDecision } from '../../../src/tuner/setup.js';
import type { CandidateKey } from '../../../src/tuner/types.js';
import { addTinyVariant, squeezenetModels, tunerRig } from './helpers.js';

describe('a variant added at run time (a derivation) joins the running tuner', () => {
  it('measures only the new candidate, in bursts, and re-decides with the stability rule; an unchanged catalogue does nothing', async () => {
    const models = squeezenetModels({ fp16: false });
    const policy = {
      objective: 'min-latency',
      latencyP95Ms: 10_000,
      fidelityFloor: 0.9,
      tuning: { rounds: 2, runsPerRound: 15, warmupRuns: 2, maxThreads: 1, background: false },
    };
    const spawned: string[] = [];
    const rig = await tunerRig(models, {
      policy,
      deps: {
        spawn: () => {
          spawned.push('child');
          return MeasureProcess.spawn();
        },
      },
    });
    try {
      const config = parseConfig({ policy });
      let active: CandidateKey = { variant: 'fp32', executionProvider: 'cpu', threads: 1 };
      const stats: BurstStats = { bursts: 0, pausedMs: 0, longestPauseMs: 0 };
      const gate: BurstGate = async (fn) => {
        stats.bursts++;
        return fn();
      };
      const lines: Array<Record<string, unknown>> = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
          done();
        },
      });
      const events: string[] = [];
      const controller = new TunerController({
        tuner: async () => rig.tuner,
        policy: () => config.policy,
        model: () => 'squeezenet1.1',
        active: () => active,
        switchTo: async (c) => {
          active = c;
          return true;
        },
        cachedDecision: (t, m) => latestDecision(rig.store, m, t.fingerprint),
        events: { emit: (type) => events.push(type) },
        gate,
        bursts: () => ({ ...stats }),
        clock: systemClock,
        log: pino({ level: 'info' }, sink),
      });

      const first = await controller.tune({ trigger: 'test', derive: 'never' });
      expect(first?.chosen?.variant).toBe('fp32');
      expect(spawned).toHaveLength(1);
      // One summary at info per tune, with its bursts (open + 2 rounds).
      const done = lines.filter((l) => l.msg === 'tuning done');
      expect(done).toHaveLength(1);
      expect(done[0]).toMatchObject({ level: 30, bursts: { count: 3 } });

      // Nothing new in the catalogue: nothing happens.
      expect(await controller.catalogueChanged('no change')).toBeUndefined();
      expect(spawned).toHaveLength(1);

      // A variant appears (as `derive` over MQTT writes one and reloads the catalogue).
      addTinyVariant(models);
      await rig.reload();
      const burstsBefore = stats.bursts;
      const after = await controller.catalogueChanged('variant derived: squeezenet1.1/tiny');
      expect(spawned).toHaveLength(2); // only the new candidate was measured
      expect(stats.bursts - burstsBefore).toBe(3); // in bursts, like any tune in the agent
      expect(after?.trigger).toBe('variant derived: squeezenet1.1/tiny');
      expect(after?.candidates.find((c) => c.variant === 'fp32')?.cached).toBe(true);
      // tiny is ~100× cheaper and above the floor: far beyond noise + margin, so it switches.
      expect(after?.chosen?.variant).toBe('tiny');
      expect(active.variant).toBe('tiny');
      expect(events.filter((e) => e === 'tuning-done')).toHaveLength(2);

      // Known now: a second notification measures nothing.
      expect(await controller.catalogueChanged('again')).toBeUndefined();
      expect(spawned).toHaveLength(2);
    } finally {
      await rig.close();
    }
  }, 180_000);

  it("the agent's `derive` tells the tuner which variant it added, once it is in the catalogue", async () => {
    const models = squeezenetModels({ fp16: false });
    const rig = await tunerRig(models);
    try {
      const config = parseConfig({ dataDir: rig.dataDir, models: { dir: models, default: 'squeezenet1.1' } });
      const told: Array<{ model: string; variant: string; inCatalogue: boolean }> = [];
      const derive = agentDerivation({
        config,
        models: {
          active: () => ({ model: 'squeezenet1.1', variant: 'fp32' }) as never,
          reloadCatalog: rig.reload,
        },
        clock: systemClock,
        log: silentLogger(),
        signal: new AbortController().signal,
        derived: (model, variant) =>
          told.push({
            model,
            variant,
            inCatalogue: rig.tuner.catalogueHash(model) !== before,
          }),
      });
      const before = rig.tuner.catalogueHash('squeezenet1.1');
      await derive({ method: 'clean', options: { calibration: 'samples' } }, () => undefined);
      expect(told).toEqual([{ model: 'squeezenet1.1', variant: 'fp32_clean', inCatalogue: true }]);
    } finally {
      await rig.close();
    }
  }, 180_000);
});
