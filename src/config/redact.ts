/**
 * The one redaction of the agent: every output that shows configuration or command parameters
 * (`config print`, `get-config`, `set-config`'s answer, the retained `info`, the "agent started"
 * log line, the command audit table, link and camera status) goes through these two functions.
 */

/** Keys whose value is a secret wherever they appear (case-insensitive). */
const SECRET_KEYS = /^(password|passphrase|token|key|secret)$/i;

export const REDACTED = '[redacted]';

/** Whether a key (the last segment of a config path) holds a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEYS.test(key);
}

/** `scheme://user:password@`, anywhere in a text (a URL, a command line, an error message). */
const CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^:@/\s]*):([^\s/]*)@/gi;

/**
 * The text with the password of every URL in it replaced (`rtsp://admin:***@10.0.0.5/h264`), for
 * logs, status and printed config; text without credentials comes back unchanged. Pure.
 */
export function redactUrl(text: string): string {
  return text.includes('://') ? text.replace(CREDENTIALS, '$1$2:***@') : text;
}

/**
 * A copy with secret-named keys replaced by `[redacted]` and credentials inside URL strings
 * removed, at any depth. Pure; bounded on absurd nesting.
 */
export function redactSecrets<T>(value: T): T {
  return redactValue(value, 0) as T;
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (depth > 32) return '[deep]';
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      isSecretKey(k) && v !== undefined ? REDACTED : redactValue(v, depth + 1),
    ]),
  );
}
