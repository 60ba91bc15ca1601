import { z } from 'zod';
import { redactSecrets } from '../cli/config.js';
import type { AgentConfig } from '../config/index.js';
import { assertRemotelyChangeable } from '../config/protected-keys.js';
import { EdgeAgentError } from '../errors.js';
import type { Catalog } from '../models/catalog.js';
import type { SetConfigResult } from './config-patch.js';
import { type CommandContext, type CommandTable, defineCommand } from './router.js';

/** A feature this build (or this device) does not have: a clear error, never a silent no-op. */
export class UnavailableError extends EdgeAgentError {
  override name = 'UnavailableError';
}

export interface ActiveModelInfo {
  model: string;
  variant: string;
  executionProvider?: string;
}

export interface ModelControl {
  /** Models and variants of the catalog (bundled and derived). */
  list(): unknown;
  active(): ActiveModelInfo | undefined;
  /** Loads and verifies the variant, then swaps it in without stopping the pipeline. */
  set(target: {
    model?: string | undefined;
    variant?: string | undefined;
  }): Promise<ActiveModelInfo & { previous?: ActiveModelInfo }>;
}

export interface DeriveRequest {
  model?: string | undefined;
  from?: string | undefined;
  method: string;
  options?: Record<string, unknown> | undefined;
}

export interface SnapshotImage {
  jpeg: Buffer;
  width: number;
  height: number;
  capturedAtMs?: number;
  [key: string]: unknown;
}

/**
 * What command handlers call. Required members exist in every build; optional ones are wired by
 * the composition root when the part that provides them is present (hardware profile, optimizer,
 * pipeline controls) — a command whose dependency is absent answers "not available".
 */
export interface CommandDeps {
  status(): Promise<unknown> | unknown;
  config: { get(): AgentConfig; set(patch: Record<string, unknown>): Promise<SetConfigResult> };
  models: ModelControl;
  restart(reason: string): void;
  profile?(): Promise<unknown> | unknown;
  derive?(request: DeriveRequest, progress: (data: Record<string, unknown>) => void): Promise<unknown>;
  snapshot?(options: { quality: number; annotate: boolean }): Promise<SnapshotImage>;
  setFps?(fps: number): Promise<unknown> | unknown;
}

/** The list-models answer: every model with its variants (bundled and derived). */
export function catalogSummary(catalog: Catalog) {
  return catalog.models().map((m) => ({
    name: m.manifest.name,
    task: m.manifest.task,
    defaultVariant: m.manifest.defaultVariant,
    variants: m.variants.map((v) => ({
      id: v.id,
      precision: v.precision,
      bytes: v.bytes,
      derived: v.derived,
    })),
  }));
}

const none = z.strictObject({});
const name = z.string().min(1).max(128);

function need<T>(dep: T | undefined, what: string): T {
  if (dep === undefined) throw new UnavailableError(`${what} is not available in this build`);
  return dep;
}

/** The command table (`request/<command>` → handler). */
export function buildCommandTable(deps: CommandDeps, afterResponse: (fn: () => void) => void): CommandTable {
  return {
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
    'get-config': defineCommand({
      summary: 'The effective configuration, secrets redacted',
      params: none,
      mutates: false,
      cost: 'light',
      run: () => redactSecrets(deps.config.get()),
    }),
    'set-config': defineCommand({
      summary:
        'Merges a partial config (JSON merge patch), validates the whole, persists it, applies what it can live',
      params: z.strictObject({ patch: z.record(z.string(), z.unknown()) }),
      mutates: true,
      run: async ({ patch }: { patch: Record<string, unknown> }) => {
        assertRemotelyChangeable(patch); // security-relevant keys: never over unsigned MQTT
        const result = await deps.config.set(patch);
        return { ...result, config: redactSecrets(deps.config.get()) };
      },
    }),
    'list-models': defineCommand({
      summary: 'Models and variants (bundled and derived) and the active one',
      params: none,
      mutates: false,
      cost: 'light',
      run: () => ({ active: deps.models.active(), models: deps.models.list() }),
    }),
    'set-model': defineCommand({
      summary: 'Switches to a model/variant (verified, hot-swapped)',
      params: z
        .strictObject({ model: name.optional(), variant: name.optional() })
        .refine((p) => p.model !== undefined || p.variant !== undefined, 'give "variant", "model" or both'),
      mutates: true,
      run: (target: { model?: string; variant?: string }) => deps.models.set(target),
    }),
    derive: defineCommand({
      summary: 'Derives a variant (quantize, fp16, prune, ...) with progress events',
      params: z.strictObject({
        model: name.optional(),
        from: name.optional(),
        method: name,
        options: z.record(z.string(), z.unknown()).optional(),
      }),
      mutates: true,
      run: (request: DeriveRequest, ctx: CommandContext) =>
        need(deps.derive, 'derive (model optimizer)')(request, ctx.progress),
    }),
    snapshot: defineCommand({
      summary: 'The latest frame as JPEG (base64), annotated with the results',
      params: z.strictObject({
        quality: z.int().min(10).max(100).default(80),
        annotate: z.boolean().default(true),
      }),
      mutates: false,
      run: async (options: { quality: number; annotate: boolean }) => {
        const image = await need(deps.snapshot, 'snapshot (pipeline frame capture)')(options);
        const { jpeg, ...meta } = image;
        return { ...meta, mime: 'image/jpeg', bytes: jpeg.length, jpegBase64: jpeg.toString('base64') };
      },
    }),
    'set-fps': defineCommand({
      summary: 'Changes the target frame rate live',
      params: z.strictObject({ fps: z.number().positive().max(240) }),
      mutates: true,
      run: async ({ fps }: { fps: number }) => ({
        fps,
        result: await need(deps.setFps, 'set-fps (pipeline rate control)')(fps),
      }),
    }),
    restart: defineCommand({
      summary: 'Stops cleanly and exits so the service manager starts it again',
      params: z.strictObject({ reason: z.string().max(256).optional() }),
      mutates: true,
      run: ({ reason }: { reason?: string }, ctx: CommandContext) => {
        afterResponse(() =>
          deps.restart(reason ?? `restart command (${ctx.transaction ?? 'no transaction'})`),
        );
        return { restarting: true };
      },
    }),
  };
}
