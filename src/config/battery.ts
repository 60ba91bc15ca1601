import * as z from '../zod.js';

/**
 * The battery planner's keys (src/tuner/battery/, docs/battery.md): the `policy.battery*` target
 * and floors, how re-planning behaves, and the `power` section (battery capacity, power model
 * overrides). Kept apart from schema.ts and policy.ts so they grow here.
 */

/** Built on each call (inside the configuration's schema builder; src/weak-lazy.ts). */
export const batteryPolicyKeys = () => ({
  batteryHours: z
    .optional(z.number().check(z.positive(), z.maximum(8760)))
    .check(
      z.describe(
        'battery-life: keep running this many hours on the battery (the planner sets variant and rate)',
      ),
    ),
  minFps: z
    .optional(z.number().check(z.positive(), z.maximum(240)))
    .check(z.describe('battery-life: never plan fewer inferences per second than this')),
  maxIntervalS: z
    .optional(z.number().check(z.positive(), z.maximum(86_400)))
    .check(z.describe('battery-life: never plan longer than this between inferences (default: one an hour)')),
  replan: z.prefault(
    z.strictObject({
      everyMinutes: z
        ._default(z.number().check(z.positive(), z.maximum(1440)), 30)
        .check(z.describe('Re-plan at least this often')),
      drainMarginPercent: z
        ._default(z.number().check(z.positive(), z.maximum(500)), 15)
        .check(z.describe('Re-plan when the measured drain departs from the plan by more than this')),
      drainWindowMinutes: z
        ._default(z.number().check(z.positive(), z.maximum(1440)), 15)
        .check(z.describe('The drain is estimated over this window (a regression, so noise averages out)')),
      rateHysteresisPercent: z
        ._default(z.number().check(z.minimum(0), z.maximum(100)), 10)
        .check(
          z.describe(
            'A re-plan keeps the current rate when the new one is within this and the target is still met',
          ),
        ),
    }),
    {},
  ),
});

/** The `power` section's schema, built on each call (src/weak-lazy.ts). */
export const powerSchema = () =>
  z.prefault(
    z.strictObject({
      batteryWh: z
        .optional(z.number().check(z.positive(), z.maximum(100_000)))
        .check(z.describe('Battery capacity, for batteries that report only a percentage')),
      model: z
        .prefault(
          z.strictObject({
            idleW: z
              .optional(z.number().check(z.positive(), z.maximum(1000)))
              .check(z.describe('Idle draw, camera released (W)')),
            activeW: z
              .optional(z.number().check(z.positive(), z.maximum(1000)))
              .check(z.describe('Draw with all cores busy (W)')),
            cameraW: z
              .optional(z.number().check(z.nonnegative(), z.maximum(100)))
              .check(z.describe('What a streaming camera adds (W)')),
            cameraWakeS: z
              .optional(z.number().check(z.nonnegative(), z.maximum(60)))
              .check(z.describe('Seconds a released camera runs per duty-cycle frame')),
          }),
          {},
        )
        .check(z.describe('Overrides of the per-board power model defaults (docs/battery.md)')),
    }),
    {},
  );

export type PowerConfig = z.infer<ReturnType<typeof powerSchema>>;
