import { z } from 'zod';
import type { Clock } from '../clock.js';
import { redactSecrets } from '../config/redact.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CommandAudit } from '../store/records.js';
import { Admission, type AdmissionStats } from './admission.js';
import type { RequestScope } from './topics.js';
import { scopeLabel } from './topics.js';

/** What a handler gets besides its validated parameters. */
export interface CommandContext {
  scope: RequestScope;
  transaction: string | undefined;
  /** Publishes a progress event for long commands (derive). */
  progress(data: Record<string, unknown>): void;
  /** Runs `fn` once the response has been sent (restart: answer first, then go). */
  afterResponse(fn: () => void): void;
}

export interface CommandSpec<S extends z.ZodType = z.ZodType> {
  summary: string;
  /** Parameters (the request object without `transaction`); a strict object schema. */
  params: S;
  /** Changes state: runs one at a time with the other mutating commands. */
  mutates: boolean;
  /**
   * `light`: answered at once from memory (ping, status, config): never queued nor refused by the
   * limit on heavy work. `heavy` (the default): admitted by the bounded run queue, or `busy`.
   */
  cost?: 'light' | 'heavy';
  run(params: z.output<S>, ctx: CommandContext): Promise<unknown> | unknown;
}

export type CommandTable = Readonly<Record<string, CommandSpec>>;

/** Helper keeping the params type of each table entry. */
export function defineCommand<S extends z.ZodType>(spec: CommandSpec<S>): CommandSpec {
  return spec as unknown as CommandSpec;
}

export interface CommandResponse {
  status: 'ok' | 'error';
  device: string;
  command: string;
  transaction?: string;
  data?: unknown;
  error?: string;
}

export interface IncomingRequest {
  topic: string;
  scope: RequestScope;
  command: string;
  payload: Buffer;
}

export interface RouterDeps {
  deviceId: string;
  table: CommandTable;
  clock: Clock;
  log: Logger;
  audit?: CommandAudit;
  maxPayloadBytes: number;
  /** Heavy requests running at once, at most (default 4). */
  maxConcurrent?: number;
  /** Heavy requests waiting for a slot, at most (default 64); more are answered `busy`. */
  maxQueued?: number;
  /** Emits a progress event (the agent queues it on the events topic). */
  progress?(command: string, transaction: string | undefined, data: Record<string, unknown>): void;
  /**
   * Takes what a handler wants done after its response went out (the transport calls it once it
   * has published). Without it, such actions run on the next microtask.
   */
  afterResponse?(fn: () => void): void;
}

/** Request envelope: `transaction` is ours, every other key is the command's parameters. */
const transactionSchema = z.union([z.string().max(128), z.number().finite()]).optional();

/**
 * Turns a request message into exactly one response: size cap, JSON, the command's zod schema,
 * then the handler. Anything wrong (unknown command, bad JSON, wrong types, a handler throwing)
 * becomes `{status: "error", error}` and changes nothing; every request is audited.
 */
export class CommandRouter {
  /** Heavy read-only requests: a few at once, a bounded line behind them. */
  private readonly admission: Admission;
  /** State changes: one at a time, in arrival order, a bounded line (a long derive blocks only these). */
  private readonly mutations: Admission;

  constructor(private readonly deps: RouterDeps) {
    this.admission = new Admission({
      maxRunning: deps.maxConcurrent ?? 4,
      maxWaiting: deps.maxQueued ?? 64,
    });
    this.mutations = new Admission({ maxRunning: 1, maxWaiting: deps.maxQueued ?? 64 });
  }

  /** Requests running, waiting, and refused as busy so far: heavy reads and state changes. */
  load(): { reads: AdmissionStats; mutations: AdmissionStats } {
    return { reads: this.admission.stats(), mutations: this.mutations.stats() };
  }

  commands(): string[] {
    return Object.keys(this.deps.table).sort();
  }

  async handle(request: IncomingRequest): Promise<CommandResponse> {
    const started = this.deps.clock.now();
    const { deviceId } = this.deps;
    const base = { device: deviceId, command: request.command };
    let transaction: string | undefined;
    let params: unknown;
    const finish = (response: CommandResponse): CommandResponse => {
      this.audit(request, transaction, params, response, this.deps.clock.now() - started);
      return response;
    };
    const fail = (error: string): CommandResponse =>
      finish({ status: 'error', ...base, ...(transaction === undefined ? {} : { transaction }), error });

    const parsed = this.parse(request.payload);
    if (parsed.kind === 'error') return fail(parsed.error);
    transaction = parsed.transaction;
    params = parsed.params;

    const spec = Object.hasOwn(this.deps.table, request.command)
      ? this.deps.table[request.command]
      : undefined;
    if (!spec) {
      return fail(
        `unknown command "${truncate(request.command, 64)}" (available: ${this.commands().join(', ')})`,
      );
    }
    const valid = spec.params.safeParse(parsed.params);
    if (!valid.success) return fail(`invalid parameters: ${formatZodIssues(valid.error)}`);

    let release: (() => void) | undefined;
    if (spec.mutates || spec.cost !== 'light') {
      const line = spec.mutates ? this.mutations : this.admission;
      const slot = line.acquire();
      if (!slot) {
        const { running, waiting } = line.stats();
        const what = spec.mutates ? 'state changes' : 'requests';
        return fail(`busy: ${running} ${what} running and ${waiting} waiting; retry later`);
      }
      release = await slot;
    }
    try {
      const ctx: CommandContext = {
        scope: request.scope,
        transaction,
        progress: (data) => this.deps.progress?.(request.command, transaction, data),
        afterResponse: (fn) => (this.deps.afterResponse ? this.deps.afterResponse(fn) : queueMicrotask(fn)),
      };
      const data = await spec.run(valid.data, ctx);
      return finish({
        status: 'ok',
        ...base,
        ...(transaction === undefined ? {} : { transaction }),
        ...(data === undefined ? {} : { data }),
      });
    } catch (err) {
      this.deps.log.warn({ command: request.command, err: errorMessage(err) }, 'command failed');
      return fail(errorMessage(err));
    } finally {
      release?.();
    }
  }

  private parse(
    payload: Buffer,
  ):
    | { kind: 'ok'; transaction: string | undefined; params: Record<string, unknown> }
    | { kind: 'error'; error: string } {
    const max = this.deps.maxPayloadBytes;
    if (payload.length > max)
      return { kind: 'error', error: `payload too large: ${payload.length} bytes (limit ${max})` };
    const text = payload.toString('utf8').trim();
    if (text === '') return { kind: 'ok', transaction: undefined, params: {} };
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { kind: 'error', error: `payload is not valid JSON: ${errorMessage(err)}` };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return {
        kind: 'error',
        error: 'payload must be a JSON object like {"transaction": "t1", ...parameters}',
      };
    }
    const { transaction: rawTransaction, ...params } = value as Record<string, unknown>;
    const t = transactionSchema.safeParse(rawTransaction);
    if (!t.success)
      return { kind: 'error', error: 'transaction: expected a string (at most 128 characters) or a number' };
    return { kind: 'ok', transaction: t.data === undefined ? undefined : String(t.data), params };
  }

  private audit(
    request: IncomingRequest,
    transaction: string | undefined,
    params: unknown,
    response: CommandResponse,
    durationMs: number,
  ): void {
    try {
      this.deps.audit?.add({
        command: request.command,
        scope: scopeLabel(request.scope),
        topic: request.topic,
        transaction,
        params: params === undefined ? undefined : redactSecrets(params),
        status: response.status,
        error: response.error,
        durationMs,
      });
    } catch (err) {
      // The answer matters more than the audit row; the failure is logged.
      this.deps.log.error({ err: errorMessage(err), command: request.command }, 'cannot write command audit');
    }
  }
}

/** `fps: expected number, received string; model: required` — the path of each bad field. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      if (issue.code === 'unrecognized_keys')
        return `unknown parameter${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${truncate(k, 40)}"`).join(', ')}`;
      const path = issue.path.map(String).join('.') || '(parameters)';
      return `${truncate(path, 80)}: ${issue.message}`;
    })
    .join('; ');
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
