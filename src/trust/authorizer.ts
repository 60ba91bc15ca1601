import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { Db } from '../store/database.js';
import type { TrustConfig } from './config.js';
import { buildKeyRing, checkSignedCommand, signedDocumentSchema, type TrustedKey } from './envelope.js';
import { ReplayStore } from './replay.js';

/** What the router asks before running a request (see RouterDeps.authorize). */
export type Authorization =
  | { ok: true; params: Record<string, unknown>; signedBy?: string }
  | { ok: false; error: string };

export interface CommandAuthorizerDeps {
  config: TrustConfig;
  deviceId: string;
  clock: Clock;
  log: Logger;
  replay: ReplayStore;
}

/**
 * The signed-command gate. A request carrying `signed` is verified (key, signature, command,
 * target, time window, allowlist, then replay) and runs with the envelope's parameters only; an
 * unsigned request runs as before unless `trust.requireSignedCommands` is set.
 */
export class CommandAuthorizer {
  readonly keys: ReadonlyMap<string, TrustedKey>;

  constructor(private readonly deps: CommandAuthorizerDeps) {
    const ring = buildKeyRing(deps.config);
    this.keys = ring.keys;
    for (const problem of ring.problems) deps.log.error({ problem }, 'trust key ignored');
  }

  authorize(command: string, body: Record<string, unknown>): Authorization {
    const { config, clock } = this.deps;
    if (!Object.hasOwn(body, 'signed')) {
      if (config.requireSignedCommands)
        return {
          ok: false,
          error: 'unsigned command refused: trust.requireSignedCommands is on (sign with `--key`)',
        };
      return { ok: true, params: body };
    }
    const { signed, ...rest } = body;
    if (Object.keys(rest).length > 0)
      return {
        ok: false,
        error: `a signed request carries its parameters inside the envelope (unexpected: ${Object.keys(rest)
          .slice(0, 5)
          .join(', ')})`,
      };
    const doc = signedDocumentSchema.safeParse(signed);
    if (!doc.success) return { ok: false, error: 'signed: expected {payload, keyId, signature}' };
    const nowMs = clock.now();
    const clockSkewMs = config.clockSkewS * 1000;
    const verdict = checkSignedCommand(doc.data, {
      deviceId: this.deps.deviceId,
      command,
      keys: this.keys,
      nowMs,
      clockSkewMs,
      maxLifetimeMs: config.maxCommandLifetimeS * 1000,
    });
    if (!verdict.ok) return { ok: false, error: `signed command refused: ${verdict.reason}` };
    const env = verdict.value;
    const keepUntil = Date.parse(env.expiresAt) + clockSkewMs;
    this.deps.replay.purge(nowMs);
    if (!this.deps.replay.claim(env.cmdId, verdict.key.keyId, nowMs, keepUntil))
      return { ok: false, error: `signed command refused: cmdId ${env.cmdId} was already received (replay)` };
    return { ok: true, params: env.params, signedBy: verdict.key.name };
  }
}

/** The router's `authorize` hook for the agent: a replay store in the agent's database. */
export function commandGate(deps: Omit<CommandAuthorizerDeps, 'replay'> & { db: Db }) {
  const authorizer = new CommandAuthorizer({ ...deps, replay: new ReplayStore(deps.db) });
  return (command: string, params: Record<string, unknown>) => authorizer.authorize(command, params);
}
