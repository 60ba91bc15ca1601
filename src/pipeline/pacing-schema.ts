import { z } from 'zod';

/**
 * How often the pipeline infers: `continuous` takes the newest frame as often as `fps` allows (as
 * fast as the model goes without it); `duty-cycle` takes one frame every `intervalS` (low battery),
 * optionally stopping the camera in between. Pure decisions; switchable at run time.
 */
export const pacingSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('continuous'),
    fps: z.number().positive().max(240).optional(),
  }),
  z.strictObject({
    mode: z.literal('duty-cycle'),
    intervalS: z.number().positive().max(86_400),
    releaseCamera: z.boolean().default(true),
    warmupFrames: z.int().min(0).max(100).default(3),
  }),
]);

export type Pacing = z.infer<typeof pacingSchema>;
export type PacingInput = z.input<typeof pacingSchema>;
