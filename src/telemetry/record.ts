import * as z from '../zod.js';

/**
 * One telemetry message: flat JSON (no nesting, so Telegraf's MQTT consumer and Prometheus take it
 * as is), units in the field names. Fields whose source is missing on a device are left out, never
 * sent as null. Per-stage latencies are `latency<Stage>P50Ms|P95Ms|P99Ms` (stages: preprocess,
 * inference, postprocess, total); temperatures are `temperature<Zone>C`.
 */
export const telemetryRecordSchema = z.catchall(
  z.object({
    ts: z.number().check(z.describe('Sample time, ms since the epoch')),
    deviceId: z.string(),
    intervalS: z.number().check(z.describe('Length of the interval the rates and percentiles cover')),
    uptimeS: z.number(),
    fps: z.number().check(z.describe('Frames inferred per second over the interval')),
    framesProcessed: z.number().check(z.describe('Frames inferred in the interval')),
    framesDropped: z.number().check(z.describe('Frames captured but skipped (stale) in the interval')),
    framesDroppedTotal: z.number(),
    framesFailed: z.number().check(z.describe('Frames that failed inference in the interval')),
    cpuPercent: z.optional(z.number()).check(z.describe('Whole-device CPU use, 0-100 over all cores')),
    agentCpuPercent: z.number().check(z.describe('CPU used by the agent process, 0-100 over all cores')),
    agentRssMB: z.number(),
    temperatureMaxC: z.optional(z.number()),
    throttled: z.optional(z.boolean()).check(z.describe('Thermal or under-voltage throttling right now')),
    batteryPercent: z.optional(z.number()),
    batteryCharging: z.optional(z.boolean()),
    powerW: z.optional(z.number()).check(z.describe('Device power draw')),
    energyPerInferenceJ: z.optional(z.number()).check(z.describe('powerW divided by fps')),
    model: z.optional(z.string()),
    variant: z.optional(z.string()),
    executionProvider: z.optional(z.string()),
    powerMode: z.optional(z.string()).check(z.describe('mains, battery, battery-low, throttled')),
    cameraState: z.optional(z.string()),
    outboxPending: z.optional(z.number()),
    outboxDroppedTotal: z.optional(z.number()),
  }),
  z.union([z.number(), z.string(), z.boolean()]),
);

export type TelemetryRecord = z.infer<typeof telemetryRecordSchema>;

/** The per-stage latency field name: `latencyInferenceP95Ms`. */
export function latencyField(stage: string, p: 50 | 95 | 99): string {
  return `latency${stage.charAt(0).toUpperCase()}${stage.slice(1)}P${p}Ms`;
}

/** `temperature<Zone>C` from a zone name like `cpu-thermal` or `GPU`. */
export function temperatureField(zone: string): string {
  const words = zone
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
  return `temperature${words.join('') || 'Zone'}C`;
}
