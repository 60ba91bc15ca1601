import { z } from 'zod';

/**
 * The battery planner's keys (src/tuner/battery/, docs/battery.md): the `policy.battery*` target
 * and floors, how re-planning behaves, and the `power` section (battery capacity, power model
 * overrides). Kept apart from schema.ts and policy.ts so they grow here.
 */

/** Built on each call (inside the configuration's schema builder; src/weak-lazy.ts). */
export const batteryPolicyKeys = () => ({
  batteryHours: z
    .number()
    .positive()
    .max(8760)
    .optional()
    .describe(
      'battery-life: keep running this many hours on the battery (the planner sets variant and rate)',
    ),
  minFps: z
    .number()
    .positive()
    .max(240)
    .optional()
    .describe('battery-life: never plan fewer inferences per second than this'),
  maxIntervalS: z
    .number()
    .positive()
    .max(86_400)
    .optional()
    .describe('battery-life: never plan longer than this between inferences (default: one an hour)'),
  replan: z
    .strictObject({
      everyMinutes: z.number().positive().max(1440).default(30).describe('Re-plan at least this often'),
      drainMarginPercent: z
        .number()
        .positive()
        .max(500)
        .default(15)
        .describe('Re-plan when the measured drain departs from the plan by more than this'),
      drainWindowMinutes: z
        .number()
        .positive()
        .max(1440)
        .default(15)
        .describe('The drain is estimated over this window (a regression, so noise averages out)'),
      rateHysteresisPercent: z
        .number()
        .min(0)
        .max(100)
        .default(10)
        .describe(
          'A re-plan keeps the current rate when the new one is within this and the target is still met',
        ),
    })
    .prefault({}),
});

/** The `power` section's schema, built on each call (src/weak-lazy.ts). */
export const powerSchema = () =>
  z
    .strictObject({
      batteryWh: z
        .number()
        .positive()
        .max(100_000)
        .optional()
        .describe('Battery capacity, for batteries that report only a percentage'),
      model: z
        .strictObject({
          idleW: z.number().positive().max(1000).optional().describe('Idle draw, camera released (W)'),
          activeW: z.number().positive().max(1000).optional().describe('Draw with all cores busy (W)'),
          cameraW: z.number().nonnegative().max(100).optional().describe('What a streaming camera adds (W)'),
          cameraWakeS: z
            .number()
            .nonnegative()
            .max(60)
            .optional()
            .describe('Seconds a released camera runs per duty-cycle frame'),
        })
        .prefault({})
        .describe('Overrides of the per-board power model defaults (docs/battery.md)'),
    })
    .prefault({});

export type PowerConfig = z.infer<ReturnType<typeof powerSchema>>;
