import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { commandTable } from '../../../src/features/feature.js';
import { tunerFeature } from '../../../src/features/tuner.js';
import { CommandRouter } from '../../../src/fleet/router.js';
import { silentLogger } from '../../../src/log.js';
import { TunerController } from '../../../src/tuner/controller.js';
import { latestDecision } from '../../../src/tuner/setup.js';
import type { CandidateKey } from '../../../src/tuner/types.js';
import { addTinyVariant, squeezenetModels, tunerRig } from './helpers.js';

describe('MQTT commands of the tuner feature', () => {
  it('tune answers with the decision and publishes progress; set-policy re-decides from the cache; bad params are refused', async () => {
    const models = squeezenetModels({ fp16: false });
    addTinyVariant(models);
    const policy = {
      tuning: { rounds: 2, runsPerRound: 3, warmupRuns: 1, maxThreads: 1, background: false },
    };
    const rig = await tunerRig(models, { policy });
    try {
      let active: CandidateKey = { variant: 'fp32', executionProvider: 'cpu', threads: 1 };
      const config = parseConfig({ policy });
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
        clock: systemClock,
      });
      const progress: Array<Record<string, unknown>> = [];
      const router = new CommandRouter({
        deviceId: 'dev',
        table: commandTable([tunerFeature({ controller })]),
        clock: systemClock,
        log: silentLogger(),
        maxPayloadBytes: 65_536,
        progress: (_c, _t, data) => progress.push(data),
      });
      const send = (command: string, params: Record<string, unknown>) =>
        router.handle({
          topic: `edge-agent/dev/request/${command}`,
          scope: { kind: 'device' } as never,
          command,
          payload: Buffer.from(JSON.stringify({ transaction: 't1', ...params })),
        });

      const tuned = await send('tune', { objective: 'max-accuracy', derive: 'never' });
      expect(tuned.status).toBe('ok');
      const data = tuned.data as { chosen: CandidateKey; candidates: unknown[]; objective: string };
      expect(data.chosen.variant).toBe('fp32');
      expect(data.candidates).toHaveLength(2);
      expect(progress.some((p) => p.stage === 'plan')).toBe(true);
      expect(progress.at(-1)).toMatchObject({ stage: 'decided' });

      const set = await send('set-policy', { objective: 'min-latency' });
      expect(set.status).toBe('ok');
      expect((set.data as { decision: { chosen: CandidateKey } }).decision.chosen.variant).toBe('tiny');
      expect(active.variant).toBe('tiny');

      const bad = await send('set-policy', { objective: 'fastest' });
      expect(bad.status).toBe('error');
      const empty = await send('set-policy', {});
      expect(empty.status).toBe('error');
      expect(empty.error).toMatch(/at least one/);
    } finally {
      await rig.close();
    }
  }, 180_000);
});
