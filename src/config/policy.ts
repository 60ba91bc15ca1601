import { OBJECTIVE_IDS } from '../tuner/objectives.js';
import * as z from '../zod.js';
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
    objective: z.optional(objectiveSchema),
    latencyP95Ms: z.optional(z.number().check(z.positive())),
    fidelityFloor: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
    memoryBudgetMB: z.optional(z.number().check(z.positive())),
    targetFps: z.optional(z.number().check(z.positive(), z.maximum(240))),
  });

  const tuningSchema = z.prefault(
    z.strictObject({
      rounds: z
        ._default(z.int().check(z.minimum(1), z.maximum(20)), 3)
        .check(z.describe('Measurement rounds; candidates alternate in each')),
      runsPerRound: z
        ._default(z.int().check(z.minimum(1), z.maximum(10_000)), 15)
        .check(z.describe('Timed inferences per candidate per round')),
      roundBudgetMs: z
        ._default(z.number().check(z.positive(), z.maximum(600_000)), 4000)
        .check(z.describe('A round of one candidate ends after this long even if its runs are not done')),
      warmupRuns: z._default(z.int().check(z.minimum(0), z.maximum(100)), 3),
      maxThreads: z
        ._default(z.int().check(z.minimum(0), z.maximum(256)), 0)
        .check(z.describe('Highest thread count tried; 0 = the cores')),
      fidelityFrames: z
        ._default(z.int().check(z.minimum(1), z.maximum(1000)), 16)
        .check(z.describe('Frames fidelity is measured on when not recorded')),
      burstMs: z
        ._default(z.number().check(z.positive(), z.maximum(60_000)), 3000)
        .check(z.describe('In the agent: the pipeline is paused at most this long per measurement burst')),
      pauseBetweenBurstsMs: z._default(z.number().check(z.nonnegative(), z.maximum(600_000)), 2000),
      driftFactor: z
        ._default(z.number().check(z.minimum(1)), 1.5)
        .check(z.describe('Live p95 above the tuned p95 × this for driftWindowS triggers a re-measure')),
      driftWindowS: z
        ._default(z.number().check(z.positive()), 60)
        .check(z.describe('How long the live p95 must stay beyond the drift limit (either way) to count')),
      driftRecovery: z
        ._default(z.boolean(), true)
        .check(
          z.describe(
            'Live p95 below the tuned p95 ÷ driftFactor for driftWindowS re-measures, when a candidate lost on the latency budget',
          ),
        ),
      background: z
        ._default(z.boolean(), true)
        .check(z.describe('Tune in the running agent when no decision is cached')),
      childMemoryMB: z
        .optional(z.number().check(z.positive()))
        .check(
          z.describe(
            'Memory a measuring child may use for its session; over it the candidate does not fit (default: the memory budget and what is available)',
          ),
        ),
      startDelayS: z
        ._default(z.number().check(z.nonnegative(), z.maximum(86_400)), 60)
        .check(
          z.describe('The background tune starts this long after the agent (start-up work finishes first)'),
        ),
    }),
    {},
  );

  return z.prefault(
    z.strictObject({
      objective: z._default(objectiveSchema, 'max-accuracy'),
      latencyP95Ms: z
        ._default(z.number().check(z.positive()), 250)
        .check(z.describe('Latency budget per inference (p95)')),
      fidelityFloor: z
        ._default(z.number().check(z.minimum(0), z.maximum(1)), 0.9)
        .check(z.describe('Minimum fidelity against the reference')),
      memoryBudgetMB: z
        .optional(z.number().check(z.positive()))
        .check(z.describe('Memory budget; the device profile decides when absent')),
      targetFps: z
        .optional(z.number().check(z.positive(), z.maximum(240)))
        .check(z.describe('The latency budget becomes at most 1000/targetFps ms')),
      switchMarginPercent: z
        ._default(z.number().check(z.minimum(0), z.maximum(100)), 5)
        .check(
          z.describe('A rival must beat the current choice by its measured noise + this % to replace it'),
        ),
      derive: z
        ._default(z.enum(['auto', 'never']), 'auto')
        .check(
          z.describe(
            'Derive variants: int8, clean, input-uint8 when nothing fits; input-uint8 of a choice normalised in JavaScript, met or not (docs/tuner.md)',
          ),
        ),
      modes: z
        ._default(
          z.strictObject({
            mains: z.optional(modeOverridesSchema),
            battery: z.optional(modeOverridesSchema),
            'battery-low': z.optional(modeOverridesSchema),
            throttled: z.optional(modeOverridesSchema),
          }),
          { 'battery-low': { objective: 'min-energy' }, throttled: { objective: 'min-energy' } },
        )
        .check(z.describe('Constraint overrides per power mode')),
      lowBatteryPercent: z
        ._default(z.number().check(z.minimum(0), z.maximum(100)), 20)
        .check(z.describe('At or below: battery-low')),
      hotTemperatureC: z
        .optional(z.number())
        .check(z.describe('At or above (hottest zone): throttled, even before the kernel caps the clock')),
      temperatureHysteresisC: z._default(z.number().check(z.nonnegative()), 5),
      tuning: tuningSchema,
      ...batteryPolicyKeys(),
    }),
    {},
  );
}

export type PolicyConfig = z.infer<ReturnType<typeof policySchema>>;
