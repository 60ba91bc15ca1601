import type { KeyObject } from 'node:crypto';
import * as z from '../zod.js';
import type { TrustConfig } from './config.js';
import {
  keyFingerprint,
  parsePublicKey,
  type SignaturePurpose,
  type SignedDocument,
  signatureValid,
} from './keys.js';

/** The signed document as it appears in a request or a manifest file. */
export const signedDocumentSchema = z.strictObject({
  payload: z.string().check(z.minLength(2), z.maxLength(256 * 1024)),
  keyId: z.string().check(z.regex(/^[0-9a-f]{32}$/, '32 hex digits')),
  signature: z.string().check(z.minLength(1), z.maxLength(200)),
});

/**
 * A signed command: what the signer allowed, for whom, and until when. `target` is a device id,
 * a list of them, or "*" (every device that trusts the key; for group requests).
 */
export const commandEnvelopeSchema = z.strictObject({
  cmdId: z.string().check(z.regex(/^[A-Za-z0-9_.:-]{8,128}$/, '8-128 letters, digits or "_.:-"')),
  target: z.union([
    z.string().check(z.minLength(1), z.maxLength(128)),
    z.array(z.string().check(z.minLength(1), z.maxLength(128))).check(z.minLength(1), z.maxLength(10_000)),
  ]),
  issuedAt: z.iso.datetime({ offset: true }),
  expiresAt: z.iso.datetime({ offset: true }),
  command: z.string().check(z.minLength(1), z.maxLength(64)),
  params: z._default(z.record(z.string(), z.unknown()), {}),
});
export type CommandEnvelope = z.infer<typeof commandEnvelopeSchema>;

/** A trusted key, parsed once. */
export interface TrustedKey {
  name: string;
  keyId: string;
  publicKey: KeyObject;
  allow: readonly string[];
}

/** The configured keys by id; a key that does not parse is reported, not fatal. */
export function buildKeyRing(config: TrustConfig): { keys: Map<string, TrustedKey>; problems: string[] } {
  const keys = new Map<string, TrustedKey>();
  const problems: string[] = [];
  for (const [i, k] of config.keys.entries()) {
    try {
      const publicKey = parsePublicKey(k.key);
      const keyId = keyFingerprint(publicKey);
      keys.set(keyId, { name: k.name, keyId, publicKey, allow: k.allow });
    } catch (err) {
      problems.push(`trust.keys.${i} (${k.name}): ${(err as Error).message}`);
    }
  }
  return { keys, problems };
}

export function keyAllows(key: TrustedKey, command: string): boolean {
  return key.allow.includes('*') || key.allow.includes(command);
}

export type Verdict<T> = { ok: true; value: T; key: TrustedKey } | { ok: false; reason: string };

/** Signature by a known key, then the payload as JSON through `schema`. Pure. */
export function verifySigned<T>(
  purpose: SignaturePurpose,
  doc: SignedDocument,
  keys: ReadonlyMap<string, TrustedKey>,
  schema: z.ZodMiniType<T>,
): Verdict<T> {
  const key = keys.get(doc.keyId);
  if (!key) return { ok: false, reason: `unknown signing key ${doc.keyId} (not in trust.keys)` };
  if (!signatureValid(purpose, doc, key.publicKey))
    return { ok: false, reason: `bad signature (key ${key.name})` };
  let json: unknown;
  try {
    json = JSON.parse(doc.payload);
  } catch {
    return { ok: false, reason: 'signed payload is not JSON' };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    return {
      ok: false,
      reason: `signed payload: ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.') || '(payload)'}: ${i.message}`)
        .join('; ')}`,
    };
  return { ok: true, value: parsed.data, key };
}

export interface TimeWindowRules {
  nowMs: number;
  clockSkewMs: number;
  maxLifetimeMs: number;
}

/** Expired, not yet valid (beyond the skew) or too long-lived: the reason; undefined when fine. Pure. */
export function timeWindowProblem(
  issuedAt: string,
  expiresAt: string,
  rules: TimeWindowRules,
): string | undefined {
  const issued = Date.parse(issuedAt);
  const expires = Date.parse(expiresAt);
  if (expires <= issued) return 'expiresAt is not after issuedAt';
  if (expires - issued > rules.maxLifetimeMs)
    return `lifetime ${Math.round((expires - issued) / 1000)} s exceeds trust.maxCommandLifetimeS (${rules.maxLifetimeMs / 1000} s)`;
  if (issued > rules.nowMs + rules.clockSkewMs)
    return `issued in the future (${issuedAt}; device clock ${new Date(rules.nowMs).toISOString()}, skew tolerance ${rules.clockSkewMs / 1000} s)`;
  if (expires + rules.clockSkewMs < rules.nowMs)
    return `expired at ${expiresAt} (device clock ${new Date(rules.nowMs).toISOString()})`;
  return undefined;
}

export function targetMatches(target: string | readonly string[], deviceId: string): boolean {
  if (typeof target === 'string') return target === '*' || target === deviceId;
  return target.includes(deviceId);
}

export interface CommandCheck extends TimeWindowRules {
  deviceId: string;
  /** The command named by the request topic. */
  command: string;
  keys: ReadonlyMap<string, TrustedKey>;
}

/**
 * Everything about a signed command except replay: key, signature, shape, the topic's command,
 * target, time window, the key's allowlist. Pure (the clock is a number).
 */
export function checkSignedCommand(doc: SignedDocument, check: CommandCheck): Verdict<CommandEnvelope> {
  const v = verifySigned('command', doc, check.keys, commandEnvelopeSchema);
  if (!v.ok) return v;
  const env = v.value;
  if (env.command !== check.command)
    return { ok: false, reason: `signed for command "${env.command}", sent to "${check.command}"` };
  if (!targetMatches(env.target, check.deviceId))
    return { ok: false, reason: `not addressed to ${check.deviceId}` };
  const time = timeWindowProblem(env.issuedAt, env.expiresAt, check);
  if (time) return { ok: false, reason: time };
  if (!keyAllows(v.key, env.command))
    return { ok: false, reason: `key ${v.key.name} may not sign "${env.command}" (trust.keys allow list)` };
  return v;
}
