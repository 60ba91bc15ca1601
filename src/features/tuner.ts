import { defineCommand, MODEL_LOCK } from '../fleet/router.js';
import type { TunerController } from '../tuner/controller.js';
import type { TuneProgress } from '../tuner/measure.js';
import { OBJECTIVE_IDS } from '../tuner/objectives.js';
import { decisionSvg } from '../tuner/plot.js';
import { decisionJson } from '../tuner/report.js';
import { progressLine } from '../tuner/setup.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';

export interface TunerFeatureDeps {
  controller: TunerController;
}

const policyParams = {
  objective: z.optional(z.enum(OBJECTIVE_IDS)),
  latencyP95Ms: z.optional(z.number().check(z.positive(), z.maximum(600_000))),
  fidelityFloor: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
  targetFps: z.optional(z.number().check(z.positive(), z.maximum(240))),
};

/**
 * The auto-tuner from outside: MQTT `tune` (progress events while it measures, the decision as
 * the answer) and `set-policy` (objective and budgets at run time, re-decided from the cache);
 * GET /api/decision/plot.svg (the trade-off charts). /api/decision itself stays with the models
 * feature, fed the tuner's decision by the composition root. The controller starts (cached
 * decision, background tune) and stops with the feature.
 */
export function tunerFeature(deps: TunerFeatureDeps): Feature {
  const { controller } = deps;
  return {
    name: 'tuner',
    commands: {
      tune: defineCommand({
        summary:
          'Measures the variants on this device (cache unless force) and chooses; progress events, the decision as the answer',
        params: z.strictObject({
          ...policyParams,
          force: z._default(z.boolean(), false),
          derive: z.optional(z.enum(['auto', 'never'])),
        }),
        mutates: true,
        // Minutes long: holds the model (set-model, derive, set-policy, another tune are refused
        // as busy), not the line of state changes (set-config, set-fps go on meanwhile).
        lock: MODEL_LOCK,
        long: true,
        run: async (p: { force: boolean; derive?: 'auto' | 'never' } & Record<string, unknown>, ctx) => {
          let lastAt = 0;
          const progress = (step: TuneProgress) => {
            // Rounds come quickly: at most one progress event a second, but every failure and the end.
            const now = Date.now();
            if (step.stage === 'round' && now - lastAt < 1000) return;
            lastAt = now;
            ctx.progress({ ...step, message: progressLine(step) });
          };
          const d = await controller.tune(
            {
              force: p.force,
              trigger: 'fleet command',
              overrides: pickPolicy(p),
              ...(p.derive ? { derive: p.derive } : {}),
            },
            progress,
          );
          if (!d) throw new Error('the tune produced no decision');
          return decisionJson(d);
        },
      }),
      'set-policy': defineCommand({
        summary:
          'Changes objective / latency budget / fidelity floor / target fps until restart; re-decides from the cache',
        params: z
          .strictObject(policyParams)
          .check(
            z.refine(
              (p) => Object.values(p).some((v) => v !== undefined),
              'give at least one of objective, latencyP95Ms, fidelityFloor, targetFps',
            ),
          ),
        mutates: true,
        lock: MODEL_LOCK,
        run: async (p: Record<string, unknown>) => {
          const d = await controller.setPolicy(pickPolicy(p));
          return { policy: controller.policy(), decision: d ? decisionJson(d) : null };
        },
      }),
    },
    routes: (app) => {
      app.get('/api/decision/plot.svg', async (_req, reply) => {
        const d = controller.current();
        if (!d) return reply.code(404).send({ error: 'no tuner decision yet' });
        return reply.type('image/svg+xml').send(decisionSvg(d));
      });
    },
    start: (signal) => {
      // Not awaited: the agent's start (and its first frames) never waits for the profile's
      // provider probe; a cached decision applies by hot swap a moment later.
      void controller.start(signal);
    },
    stop: () => controller.stop(),
  };
}

function pickPolicy(p: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const k of ['objective', 'latencyP95Ms', 'fidelityFloor', 'targetFps'])
    if (p[k] !== undefined) out[k] = p[k];
  return out;
}
