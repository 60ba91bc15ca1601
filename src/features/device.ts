import type { Clock } from '../clock.js';
import { defineCommand } from '../fleet/router.js';
import { type Fault, healthStatus } from '../health/faults.js';
import type { PipelineStats } from '../pipeline/types.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';
import { need } from './feature.js';
import type { ActiveModelInfo } from './models.js';

export interface DeviceFeatureDeps {
  /** The get-status document (see deviceStatus). */
  status(): Promise<unknown> | unknown;
  /** The hardware profile; absent from a build without the profiler ("not available"). */
  profile?(): Promise<unknown> | unknown;
  /** Stops cleanly and exits so the service manager starts the agent again. */
  restart(reason: string): void;
}

const none = z.strictObject({});

/** The device itself: ping, get-status, get-profile (and GET /api/profile), restart. */
export function deviceFeature(deps: DeviceFeatureDeps): Feature {
  return {
    name: 'device',
    commands: {
      ping: defineCommand({
        summary: 'Answers pong with the device time',
        params: none,
        mutates: false,
        cost: 'light',
        run: () => ({ pong: true, time: new Date().toISOString() }),
      }),
      'get-status': defineCommand({
        summary: 'Uptime, active model, pipeline and link state, latest telemetry, outbox',
        params: none,
        mutates: false,
        cost: 'light',
        run: () => deps.status(),
      }),
      'get-profile': defineCommand({
        summary: 'The hardware profile of the device',
        params: none,
        mutates: false,
        run: () => need(deps.profile, 'get-profile (hardware profiler)')(),
      }),
      restart: defineCommand({
        summary: 'Stops cleanly and exits so the service manager starts it again',
        params: z.strictObject({ reason: z.optional(z.string().check(z.maxLength(256))) }),
        mutates: true,
        run: ({ reason }: { reason?: string }, ctx) => {
          ctx.afterResponse(() =>
            deps.restart(reason ?? `restart command (${ctx.transaction ?? 'no transaction'})`),
          );
          return { restarting: true };
        },
      }),
    },
    routes: (app) => {
      app.get('/api/profile', async (_req, reply) => {
        if (!deps.profile) {
          return reply.code(503).send({
            error: 'the device profile is not available in this build (hardware part not wired in)',
          });
        }
        return deps.profile();
      });
    },
  };
}

/** The parts of the running agent a status document reads. */
export interface StatusParts {
  deviceId: string;
  version: string;
  startedAtMs: number;
  clock: Clock;
  active(): ActiveModelInfo | undefined;
  pipeline?: { stats(): PipelineStats; latest(): { capturedAtMs: number } | undefined };
  telemetry?: { latest(): unknown };
  outbox?: { stats(): unknown };
  /** The MQTT link's state (absent while MQTT is off). */
  mqtt?(): unknown;
  /** What is degraded (no model, camera offline, disk full, ...), as in /healthz. */
  faults?(): readonly Fault[];
}

/** The get-status answer. */
export function deviceStatus(parts: StatusParts) {
  const latest = parts.pipeline?.latest();
  return {
    deviceId: parts.deviceId,
    version: parts.version,
    uptimeS: Math.round((parts.clock.now() - parts.startedAtMs) / 1000),
    active: parts.active(),
    pipeline: parts.pipeline?.stats(),
    lastResultAt: latest ? new Date(latest.capturedAtMs).toISOString() : null,
    telemetry: parts.telemetry?.latest() ?? null,
    outbox: parts.outbox?.stats(),
    mqtt: parts.mqtt?.(),
    ...(parts.faults ? { health: healthOf(parts.faults()) } : {}),
  };
}

function healthOf(faults: readonly Fault[]) {
  return { status: healthStatus(faults), faults };
}
