import type { Clock } from '../clock.js';
import { redactSecrets } from '../config/redact.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CommandAudit } from '../store/records.js';
import * as z from '../zod.js';
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

export interface CommandSpec<S extends z.ZodMiniType = z.ZodMiniType> {
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
  /**
   * A resource the command holds while it runs (`model`: what serves and how it is chosen). Another
   * command wanting the same resource meanwhile is refused at once with `busy: "<command>" is
   * running…`, not queued behind it.
   */
  lock?: string;
  /**
   * A long state change (a tune, a derivation: minutes): it holds only its `lock`, not the
   * one-at-a-time line of state changes, so unrelated changes (set-config, set-fps) go on meanwhile.
   */
  long?: boolean;
  run(params: z.output<S>, ctx: CommandContext): Promise<unknown> | unknown;
}

export type CommandTable = Readonly<Record<string, CommandSpec>>;

/** The lock of commands that change what serves or how it is chosen (set-model, tune, derive, deploy). */
export const MODEL_LOCK = 'model';

/** Helper keeping the params type of each table entry. */
export function defineCommand<S extends z.ZodMiniType>(spec: CommandSpec<S>): CommandSpec {
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
  /**
   * Who holds a lock outside the router (the tuner's background tunes hold the model): a command
   * wanting it is refused as busy, as if a command held it.
   */
  lockHolder?(lock: string): { command: string; since: number } | undefined;
  /**
   * Gate run on every parsed request before its command (trust/authorizer.ts: signed commands).
   * Returns the parameters to run with, or an error that becomes the response and the audit row.
   */
  authorize?(
    command: string,
    params: Record<string, unknown>,
  ): { ok: true; params: Record<string, unknown>; signedBy?: string } | { ok: false; error: string };
}

/** Request envelope: `transaction` is ours, every other key is the command's parameters. */
const transactionSchema = z.optional(z.union([z.string().check(z.maxLength(128)), z.number()]));

/**
 * Turns a request message into exactly one response: size cap, JSON, the command's zod schema,
 * then the handler. Anything wrong (unknown command, bad JSON, wrong types, a handler throwing)
 * becomes `{status: "error", error}` and changes nothing; every request is audited.
 */
export class CommandRouter {
  /** Heavy read-only requests: a few at once, a bounded line behind them. */
  private readonly admission: Admission;
  /** State changes: one at a time, in arrival order, a bounded line (long ones with a lock run beside it). */
  private readonly mutations: Admission;
  /** Resources held by running commands (CommandSpec.lock): who holds each, since when. */
  private readonly locks = new Map<string, { command: string; since: number }>();
  /** One per command being handled: answers it with an error now (`interrupt`). */
  private readonly interrupters = new Set<(error: string) => void>();

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

  /**
   * Answers every command still running now with `error` (each audited as such); their work goes on
   * to its end, but its outcome is no longer answered nor audited. For the agent's stop: the sender
   * gets an answer while the link is still open, not silence. Returns how many were answered.
   */
  interrupt(error: string): number {
    const running = [...this.interrupters];
    for (const fn of running) fn(error);
    return running.length;
  }

  async handle(request: IncomingRequest): Promise<CommandResponse> {
    const started = this.deps.clock.now();
    const { deviceId } = this.deps;
    const base = { device: deviceId, command: request.command };
    let transaction: string | undefined;
    let params: unknown;
    let signedBy: string | undefined;
    let answered = false;
    const finish = (response: CommandResponse): CommandResponse => {
      // Once: a command interrupted by the stop is answered and audited then, not again when its
      // work ends after all.
      if (answered) return response;
      answered = true;
      this.audit(request, transaction, params, response, this.deps.clock.now() - started, signedBy);
      return response;
    };
    const fail = (error: string): CommandResponse =>
      finish({ status: 'error', ...base, ...(transaction === undefined ? {} : { transaction }), error });

    const work = async (): Promise<CommandResponse> => {
      const parsed = this.parse(request.payload);
      if (parsed.kind === 'error') return fail(parsed.error);
      transaction = parsed.transaction;
      params = parsed.params;
      if (this.deps.authorize) {
        const verdict = this.deps.authorize(request.command, parsed.params);
        if (!verdict.ok) return fail(verdict.error);
        params = parsed.params = verdict.params;
        signedBy = verdict.signedBy;
      }

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

      const lockBusy = () => {
        const holder =
          spec.lock === undefined
            ? undefined
            : (this.locks.get(spec.lock) ?? this.deps.lockHolder?.(spec.lock));
        if (!holder) return undefined;
        const s = Math.round((this.deps.clock.now() - holder.since) / 1000);
        return `busy: "${holder.command}" is running (for ${s} s) and holds the ${spec.lock}; "${request.command}" conflicts with it — retry when it finishes`;
      };
      const refused = lockBusy();
      if (refused) return fail(refused);
      let release: (() => void) | undefined;
      // A long command with a lock runs beside the line of state changes, held only by its lock.
      const beside = spec.long === true && spec.lock !== undefined;
      if (!beside && (spec.mutates || spec.cost !== 'light')) {
        const line = spec.mutates ? this.mutations : this.admission;
        const slot = line.acquire();
        if (!slot) {
          const { running, waiting } = line.stats();
          const what = spec.mutates ? 'state changes' : 'requests';
          return fail(`busy: ${running} ${what} running and ${waiting} waiting; retry later`);
        }
        release = await slot;
      }
      // Checked again: the holder may have started while this one waited in line.
      const late = lockBusy();
      if (late) {
        release?.();
        return fail(late);
      }
      if (spec.lock !== undefined)
        this.locks.set(spec.lock, { command: request.command, since: this.deps.clock.now() });
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
        if (spec.lock !== undefined) this.locks.delete(spec.lock);
      }
    };
    let interrupt: ((error: string) => void) | undefined;
    const interrupted = new Promise<CommandResponse>((resolve) => {
      interrupt = (error) => resolve(fail(error));
      this.interrupters.add(interrupt);
    });
    try {
      return await Promise.race([work(), interrupted]);
    } finally {
      if (interrupt) this.interrupters.delete(interrupt);
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
    signedBy?: string,
  ): void {
    try {
      this.deps.audit?.add({
        command: request.command,
        scope: `${scopeLabel(request.scope)}${signedBy === undefined ? '' : ` signed:${signedBy}`}`,
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
export function formatZodIssues(error: z.core.$ZodError): string {
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
