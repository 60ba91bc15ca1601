import * as z from '../zod.js';

/**
 * How often the pipeline infers: `continuous` takes the newest frame as often as `fps` allows (as
 * fast as the model goes without it); `duty-cycle` takes one frame every `intervalS` (low battery),
 * optionally stopping the camera in between. Pure decisions; switchable at run time.
 */
export const pacingSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('continuous'),
    fps: z.optional(z.number().check(z.positive(), z.maximum(240))),
  }),
  z.strictObject({
    mode: z.literal('duty-cycle'),
    intervalS: z.number().check(z.positive(), z.maximum(86_400)),
    releaseCamera: z._default(z.boolean(), true),
    warmupFrames: z._default(z.int().check(z.minimum(0), z.maximum(100)), 3),
  }),
]);

export type Pacing = z.infer<typeof pacingSchema>;
export type PacingInput = z.input<typeof pacingSchema>;
