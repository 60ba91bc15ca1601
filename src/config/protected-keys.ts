import { EdgeAgentError } from '../errors.js';
import { type LookupAll, remoteCameraHostProblem, remoteCameraUrlProblem } from './source-policy.js';

/**
 * Config keys that an unsigned remote request (MQTT `set-config`) may not change: whoever can
 * publish on the broker is not trusted by default (DESIGN.md, Trust). Changing them means editing
 * the config file on the device; a signed-command issue may later allow some of them.
 *
 * The rule is a declared list, not a guess: a key is protected when it or one of its parents is
 * listed here. Whole sections are listed where everything in them is security-relevant
 * (`mqtt`, `trust`), so keys added to them later are protected without anyone remembering to.
 * `test/unit/config/protected-keys.test.ts` walks the schema and fails when a new key that looks
 * like a path, a bind address or a secret is changeable.
 */
export interface ProtectedKey {
  /** Dotted config path; every key below it is protected too. */
  path: string;
  /** Why (shown in the `forbidden` answer). */
  reason: string;
  /** Present: only values this returns true for are forbidden (e.g. local file sources). */
  forbidsValue?(value: unknown): boolean;
  /** A more precise reason for a forbidden value (shown instead of `reason`). */
  reasonFor?(value: unknown): string | undefined;
  /** For value-dependent keys: what may be set remotely, for docs/config.md. */
  remoteNote?: string;
}

/** Log levels a remote request may choose (redaction applies at all of them: src/log.ts). */
export const REMOTE_LOG_LEVELS: readonly string[] = ['error', 'warn', 'info', 'debug'];

/** Keys below a protected path that remain changeable (live, harmless tuning). */
export const CHANGEABLE_EXCEPTIONS: readonly string[] = ['mqtt.results'];

export const PROTECTED_KEYS: readonly ProtectedKey[] = [
  { path: 'dataDir', reason: 'a filesystem path' },
  { path: 'models.dir', reason: 'a filesystem path' },
  { path: 'hardware.root', reason: 'a filesystem path' },
  { path: 'http.host', reason: 'the HTTP bind address' },
  { path: 'http.port', reason: 'the HTTP bind address' },
  { path: 'http.token', reason: 'HTTP authentication' },
  { path: 'http.enabled', reason: 'the HTTP listener' },
  { path: 'mqtt', reason: 'the broker connection, its credentials and TLS files' },
  { path: 'trust', reason: 'command and manifest signing keys' },
  { path: 'store.auditRetentionDays', reason: 'the audit trail' },
  {
    path: 'camera.maxRedirects',
    reason:
      'redirects let a camera server send the device to its own services (SSRF); remotely only 0, more in the config file',
    remoteNote: 'over MQTT only 0 (no redirects)',
    forbidsValue: (value) => value !== null && value !== undefined && value !== 0,
  },
  {
    path: 'log.level',
    reason:
      'a log level that hides faults and the audit of what is done (fatal, silent) or logs every payload (trace); remotely only error, warn, info, debug',
    remoteNote: 'over MQTT only error, warn, info or debug',
    forbidsValue: (value) =>
      value !== null && (typeof value !== 'string' || !REMOTE_LOG_LEVELS.includes(value)),
  },
  {
    path: 'camera.source',
    reason:
      'a local file or folder, or a URL of this device, a link-local or a metadata address (remotely only cameras and network streams elsewhere)',
    remoteNote:
      'over MQTT no files or folders, and no URL of this device, a link-local or a metadata address',
    forbidsValue: (value) => typeof value !== 'string' || !isRemoteSafeSource(value),
    reasonFor: (value) =>
      typeof value === 'string' && isNetworkSource(value)
        ? `${remoteCameraUrlProblem(value)}: network cameras set remotely may not be on this device, link-local or metadata addresses (config/source-policy.ts)`
        : undefined,
  },
];

/**
 * Camera sources a remote request may select: devices by index, `/dev/videoN`, network streams,
 * synthetic. Files and folders (`file:`, `images:`) would let a publisher read any image on the
 * device back through `snapshot`; network URLs on this device (loopback), link-local or metadata
 * addresses would let it reach services that only the device can (SSRF; config/source-policy.ts).
 */
export function isRemoteSafeSource(source: string): boolean {
  const s = source.trim();
  if (isNetworkSource(s)) return remoteCameraUrlProblem(s) === undefined;
  return (
    s === 'synthetic' ||
    /^libcamera(:\d{1,3})?$/.test(s) ||
    /^jetson-csi(:\d{1,3})?$/.test(s) ||
    /^v4l2:\/dev\/video\d{1,3}$/.test(s)
  );
}

function isNetworkSource(source: string): boolean {
  return /^(rtsps?|https?):\/\/[^\s]+$/i.test(source.trim());
}

export class ForbiddenError extends EdgeAgentError {
  override name = 'ForbiddenError';
  constructor(
    message: string,
    readonly keys: string[],
  ) {
    super(message);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The leaves a JSON merge patch writes or deletes: `[path, value]` (value null = delete). */
function patchLeaves(patch: unknown, prefix: string[] = [], depth = 0): Array<[string[], unknown]> {
  if (!isPlainObject(patch) || depth > 32) return prefix.length ? [[prefix, patch]] : [];
  // An empty object merges nothing: no leaf.
  return Object.entries(patch).flatMap(([k, v]) =>
    isPlainObject(v)
      ? patchLeaves(v, [...prefix, k], depth + 1)
      : [[[...prefix, k], v] as [string[], unknown]],
  );
}

const within = (path: string, parent: string) => path === parent || path.startsWith(`${parent}.`);

/**
 * The protected keys a merge patch would change, with the reason. Pure. A patch that replaces or
 * deletes a parent (`{"http": null}`) changes every key below it.
 */
export function forbiddenChanges(patch: Record<string, unknown>): Array<{ key: string; reason: string }> {
  const found = new Map<string, string>();
  for (const [segments, value] of patchLeaves(patch)) {
    const leaf = segments.join('.');
    if (CHANGEABLE_EXCEPTIONS.some((e) => within(leaf, e))) continue;
    for (const key of PROTECTED_KEYS) {
      if (within(leaf, key.path)) {
        // The leaf is the key or below it.
        const v = valueAt(value, key.path, leaf);
        if (!key.forbidsValue || key.forbidsValue(v)) found.set(key.path, key.reasonFor?.(v) ?? key.reason);
      } else if (within(key.path, leaf)) {
        // The leaf replaces or deletes a parent of the key: what does the key become?
        if (!key.forbidsValue) {
          found.set(key.path, key.reason);
          continue;
        }
        const nested = valueAt(value, key.path, leaf);
        // Deleted (back to the default) is allowed for value-dependent keys.
        if (nested !== undefined && key.forbidsValue(nested))
          found.set(key.path, key.reasonFor?.(nested) ?? key.reason);
      }
    }
  }
  return [...found].map(([key, reason]) => ({ key, reason }));
}

/** The value at `keyPath` inside `value`, which sits at `leafPath`. */
function valueAt(value: unknown, keyPath: string, leafPath: string): unknown {
  if (keyPath === leafPath || within(leafPath, keyPath)) return value;
  let v: unknown = value;
  for (const part of keyPath.slice(leafPath.length + 1).split('.')) {
    if (!isPlainObject(v)) return undefined;
    v = v[part];
  }
  return v;
}

/** How a config key may be changed over MQTT: freely, never, or depending on the value. Pure. */
export function remoteChangeability(key: string): 'allowed' | 'forbidden' | 'by value' {
  if (CHANGEABLE_EXCEPTIONS.some((e) => within(key, e))) return 'allowed';
  const rule = PROTECTED_KEYS.find((k) => within(key, k.path));
  if (!rule) return 'allowed';
  return rule.forbidsValue ? 'by value' : 'forbidden';
}

/** What a value-dependent key may be set to remotely (docs/config.md), else undefined. */
export function remoteNote(key: string): string | undefined {
  return PROTECTED_KEYS.find((k) => within(key, k.path) && k.forbidsValue)?.remoteNote;
}

/** Throws a `forbidden` error naming every protected key the patch touches. */
export function assertRemotelyChangeable(patch: Record<string, unknown>): void {
  const bad = forbiddenChanges(patch);
  if (bad.length === 0) return;
  throw new ForbiddenError(
    `forbidden: ${bad.map((b) => `${b.key} (${b.reason})`).join(', ')} cannot be changed over MQTT; ` +
      'edit the config file on the device. Nothing was changed.',
    bad.map((b) => b.key),
  );
}

/**
 * The DNS half of the camera rule, for a patch that already passed `assertRemotelyChangeable`: a
 * network camera host name must not resolve to this device, a link-local or a metadata address.
 */
export async function assertRemoteCameraHost(
  patch: Record<string, unknown>,
  lookup?: LookupAll,
): Promise<void> {
  const camera = patch.camera;
  if (!isPlainObject(camera) || typeof camera.source !== 'string' || !isNetworkSource(camera.source)) return;
  const problem = await remoteCameraHostProblem(camera.source, lookup);
  if (!problem) return;
  throw new ForbiddenError(
    `forbidden: camera.source (${problem}) cannot be set over MQTT; edit the config file on the device. Nothing was changed.`,
    ['camera.source'],
  );
}
