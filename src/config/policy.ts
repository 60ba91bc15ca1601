import { z } from 'zod';
import { OBJECTIVE_IDS } from '../tuner/objectives.js';
import { batteryPolicyKeys } from './battery.js';

/**
 * `policy`: what the tuner optimises and under which constraints (src/tuner/, docs/tuner.md).
 * Kept apart from schema.ts so the tuner's keys grow here.
 */

/** The `policy` section's schema, built on each call (inside the configuration's; src/weak-lazy.ts). */
export function policySchema() {
  const objectiveSchema = z.enum(OBJECTIVE_IDS);

  /** A power mode's overrides of the top-level constraint set. */
  const modeOverridesSchema = z.strictObject({
    objective: objectiveSchema.optional(),
    latencyP95Ms: z.number().positive().optional(),
    fidelityFloor: z.number().min(0).max(1).optional(),
    memoryBudgetMB: z.number().positive().optional(),
    targetFps: z.number().positive().max(240).optional(),
  });

  const tuningSchema = z
    .strictObject({
      rounds: z.int().min(1).max(20).default(3).describe('Measurement rounds; candidates alternate in each'),
      runsPerRound: z
        .int()
        .min(1)
        .max(10_000)
        .default(15)
        .describe('Timed inferences per candidate per round'),
      roundBudgetMs: z
        .number()
        .positive()
        .max(600_000)
        .default(4000)
        .describe('A round of one candidate ends after this long even if its runs are not done'),
      warmupRuns: z.int().min(0).max(100).default(3),
      maxThreads: z.int().min(0).max(256).default(0).describe('Highest thread count tried; 0 = the cores'),
      fidelityFrames: z
        .int()
        .min(1)
        .max(1000)
        .default(16)
        .describe('Frames fidelity is measured on when not recorded'),
      burstMs: z
        .number()
        .positive()
        .max(60_000)
        .default(3000)
        .describe('In the agent: the pipeline is paused at most this long per measurement burst'),
      pauseBetweenBurstsMs: z.number().nonnegative().max(600_000).default(2000),
      driftFactor: z
        .number()
        .min(1)
        .default(1.5)
        .describe('Live p95 above the tuned p95 × this for driftWindowS triggers a re-measure'),
      driftWindowS: z
        .number()
        .positive()
        .default(60)
        .describe('How long the live p95 must stay beyond the drift limit (either way) to count'),
      driftRecovery: z
        .boolean()
        .default(true)
        .describe(
          'Live p95 below the tuned p95 ÷ driftFactor for driftWindowS re-measures, when a candidate lost on the latency budget',
        ),
      background: z.boolean().default(true).describe('Tune in the running agent when no decision is cached'),
      childMemoryMB: z
        .number()
        .positive()
        .optional()
        .describe(
          'Memory a measuring child may use for its session; over it the candidate does not fit (default: the memory budget and what is available)',
        ),
      startDelayS: z
        .number()
        .nonnegative()
        .max(86_400)
        .default(60)
        .describe('The background tune starts this long after the agent (start-up work finishes first)'),
    })
    .prefault({});

  return z
    .strictObject({
      objective: objectiveSchema.default('max-accuracy'),
      latencyP95Ms: z.number().positive().default(250).describe('Latency budget per inference (p95)'),
      fidelityFloor: z.number().min(0).max(1).default(0.9).describe('Minimum fidelity against the reference'),
      memoryBudgetMB: z
        .number()
        .positive()
        .optional()
        .describe('Memory budget; the device profile decides when absent'),
      targetFps: z
        .number()
        .positive()
        .max(240)
        .optional()
        .describe('The latency budget becomes at most 1000/targetFps ms'),
      switchMarginPercent: z
        .number()
        .min(0)
        .max(100)
        .default(5)
        .describe('A rival must beat the current choice by its measured noise + this % to replace it'),
      derive: z
        .enum(['auto', 'never'])
        .default('auto')
        .describe(
          'Derive variants: int8, clean, input-uint8 when nothing fits; input-uint8 of a choice normalised in JavaScript, met or not (docs/tuner.md)',
        ),
      modes: z
        .strictObject({
          mains: modeOverridesSchema.optional(),
          battery: modeOverridesSchema.optional(),
          'battery-low': modeOverridesSchema.optional(),
          throttled: modeOverridesSchema.optional(),
        })
        .default({ 'battery-low': { objective: 'min-energy' }, throttled: { objective: 'min-energy' } })
        .describe('Constraint overrides per power mode'),
      lowBatteryPercent: z.number().min(0).max(100).default(20).describe('At or below: battery-low'),
      hotTemperatureC: z
        .number()
        .optional()
        .describe('At or above (hottest zone): throttled, even before the kernel caps the clock'),
      temperatureHysteresisC: z.number().nonnegative().default(5),
      tuning: tuningSchema,
      ...batteryPolicyKeys(),
    })
    .prefault({});
}

export type PolicyConfig = z.infer<ReturnType<typeof policySchema>>;
