import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { configFeature } from '../../../src/features/config.js';
import { deriveFeature } from '../../../src/features/derive.js';
import { deviceFeature } from '../../../src/features/device.js';
import { commandTable } from '../../../src/features/feature.js';
import { modelsFeature } from '../../../src/features/models.js';
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
      tuning: { rounds: 2, runsPerRound: 15, warmupRuns: 2, maxThreads: 1, background: false },
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

  it('a long tune holds only the model: set-config and get-status answer meanwhile; set-model, derive, set-policy and another tune are refused as busy', async () => {
    const models = squeezenetModels({ fp16: false });
    const policy = {
      tuning: { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1, background: false },
    };
    const rig = await tunerRig(models, { policy });
    try {
      const config = parseConfig({ policy });
      let entered!: () => void;
      const inBurst = new Promise<void>((r) => {
        entered = r;
      });
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      // Old code would queue set-config behind the tune forever: let go after 60 s so such a run
      // fails on its assertions instead of hanging.
      const fallback = setTimeout(() => release(), 60_000);
      const controller = new TunerController({
        tuner: async () => rig.tuner,
        policy: () => config.policy,
        model: () => 'squeezenet1.1',
        active: () => ({ variant: 'fp32', executionProvider: 'cpu', threads: 1 }),
        switchTo: async () => false,
        cachedDecision: () => undefined,
        // The first burst waits until the test lets go: the tune is "long" for as long as needed.
        gate: async (fn) => {
          entered();
          await held;
          return fn();
        },
        clock: systemClock,
      });
      const changes: string[] = [];
      const router = new CommandRouter({
        deviceId: 'dev',
        table: commandTable([
          tunerFeature({ controller }),
          deviceFeature({ status: () => ({ uptimeS: 1 }), restart: () => undefined }),
          configFeature({
            store: {
              effective: () => config,
              set: async (patch) => {
                changes.push(`config ${JSON.stringify(patch)}`);
                return {
                  file: 'f',
                  changed: [],
                  applied: [],
                  restartRequired: [],
                  shadowedByEnv: [],
                  failed: [],
                };
              },
            },
          }),
          modelsFeature({
            models: {
              catalog: { models: () => [] } as never,
              active: () => ({ model: 'squeezenet1.1', variant: 'fp32' }),
              switchTo: async (t) => {
                changes.push(`model ${t.variant}`);
                const v = { model: 'squeezenet1.1', variant: t.variant ?? 'fp32' };
                return { changed: true, from: v, to: v };
              },
            },
            decision: () => ({}),
          }),
          deriveFeature({
            derive: async (req) => {
              changes.push(`derive ${req.method}`);
              return {};
            },
          }),
        ]),
        clock: systemClock,
        log: silentLogger(),
        maxPayloadBytes: 65_536,
      });
      const send = (command: string, params: Record<string, unknown> = {}) =>
        router.handle({
          topic: `edge-agent/dev/request/${command}`,
          scope: { kind: 'device' } as never,
          command,
          payload: Buffer.from(JSON.stringify(params)),
        });

      let tuneDone = false;
      const tune = send('tune', { derive: 'never' }).finally(() => {
        tuneDone = true;
      });
      await inBurst;
      const setConfig = await send('set-config', { patch: { telemetry: { intervalS: 30 } } });
      expect(setConfig.status).toBe('ok');
      expect((await send('get-status')).status).toBe('ok');
      expect(tuneDone).toBe(false); // both answered while the tune was still measuring
      for (const [command, params] of [
        ['set-model', { variant: 'fp16' }],
        ['derive', { method: 'clean' }],
        ['set-policy', { objective: 'min-latency' }],
        ['tune', {}],
      ] as const) {
        const r = await send(command, params);
        expect(r.status, command).toBe('error');
        expect(r.error, command).toMatch(
          /^busy: "tune" is running \(for \d+ s\) and holds the model; ".+" conflicts with it/,
        );
      }
      expect(changes).toEqual(['config {"telemetry":{"intervalS":30}}']);
      release();
      const done = await tune;
      clearTimeout(fallback);
      expect(done.status).toBe('ok');
      // Free again once the tune is over.
      expect((await send('set-model', { variant: 'fp32' })).status).toBe('ok');
      expect(changes.at(-1)).toBe('model fp32');
    } finally {
      await rig.close();
    }
  }, 180_000);

  it('a background tune (not a command) holds the model too: set-model is refused as busy naming it; reads go on', async () => {
    const models = squeezenetModels({ fp16: false });
    const policy = {
      tuning: { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1, background: false },
    };
    const rig = await tunerRig(models, { policy });
    try {
      const config = parseConfig({ policy });
      let entered!: () => void;
      const inBurst = new Promise<void>((r) => {
        entered = r;
      });
      let release!: () => void;
      const held = new Promise<void>((r) => {
        release = r;
      });
      const controller = new TunerController({
        tuner: async () => rig.tuner,
        policy: () => config.policy,
        model: () => 'squeezenet1.1',
        active: () => ({ variant: 'fp32', executionProvider: 'cpu', threads: 1 }),
        switchTo: async () => false,
        cachedDecision: () => undefined,
        gate: async (fn) => {
          entered();
          await held;
          return fn();
        },
        clock: systemClock,
      });
      const router = new CommandRouter({
        deviceId: 'dev',
        table: commandTable([
          tunerFeature({ controller }),
          deviceFeature({ status: () => ({ uptimeS: 1 }), restart: () => undefined }),
          modelsFeature({
            models: {
              catalog: { models: () => [] } as never,
              active: () => ({ model: 'squeezenet1.1', variant: 'fp32' }),
              switchTo: async () => {
                throw new Error('must not switch during the tune');
              },
            },
            decision: () => ({}),
          }),
        ]),
        clock: systemClock,
        log: silentLogger(),
        maxPayloadBytes: 65_536,
        // As the agent wires it (src/agent.ts): the controller's running tune holds the model.
        lockHolder: (lock) => (lock === 'model' ? controller.tuning() : undefined),
      });
      const send = (command: string, params: Record<string, unknown> = {}) =>
        router.handle({
          topic: `edge-agent/dev/request/${command}`,
          scope: { kind: 'device' } as never,
          command,
          payload: Buffer.from(JSON.stringify(params)),
        });
      const background = controller.tune({ trigger: 'latency drift: test', derive: 'never' });
      await inBurst;
      expect((await send('get-status')).status).toBe('ok');
      const refused = await send('set-model', { variant: 'fp32' });
      expect(refused.error).toMatch(
        /^busy: "tune \(latency drift: test\)" is running \(for \d+ s\) and holds the model/,
      );
      expect((await send('tune')).error).toMatch(/^busy: "tune \(latency drift: test\)"/);
      release();
      expect((await background)?.chosen?.variant).toBe('fp32');
      expect(controller.tuning()).toBeUndefined();
    } finally {
      await rig.close();
    }
  }, 180_000);
});
