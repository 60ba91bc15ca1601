import { type DestinationStream, type LevelWithSilent, type Logger, pino } from 'pino';
import { isSecretKey, REDACTED, redactUrl } from './config/redact.js';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** File descriptor to write to: 1 for the daemon, 2 for CLI commands so stdout stays machine-readable. */
  fd?: 1 | 2;
  /** Write here instead (tests). */
  destination?: DestinationStream;
}

/**
 * One root logger per process; components take `log.child({ component })` from their deps.
 * Every line, at every level (debug and trace carry payloads), goes through the agent's one
 * redaction: secret-named keys at any depth, credentials in URLs anywhere in a value, in an error's
 * message and stack, and in the message text itself.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: {
        paths: ['*.password', '*.token', '*.key', 'config.http.token', 'config.mqtt.password'],
        censor: REDACTED,
      },
      formatters: { log: (object) => redactLogValue(object, 0) as Record<string, unknown> },
      hooks: {
        logMethod(args, method) {
          // The message is the first string argument (after a merging object, if any).
          const at = typeof args[0] === 'string' ? 0 : 1;
          if (typeof args[at] === 'string') (args as unknown[])[at] = redactUrl(args[at] as string);
          method.apply(this, args);
        },
      },
    },
    options.destination ?? pino.destination({ fd: options.fd ?? 1, sync: true }),
  );
}

/**
 * A log object with secrets removed (config/redact.ts rules). Unlike `redactSecrets` it keeps what
 * pino serialises specially: an Error stays an Error (redacted; pino's serialiser makes it
 * `{type, message, stack}`), and objects that are not plain (Buffers, class instances) are left to
 * pino's serialisers. Pure; bounded depth.
 */
export function redactLogValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactUrl(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 16) return '[deep]';
  if (value instanceof Error) return redactError(value, depth);
  if (Array.isArray(value)) return value.map((v) => redactLogValue(v, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [
      k,
      isSecretKey(k) && v !== undefined ? REDACTED : redactLogValue(v, depth + 1),
    ]),
  );
}

/** A copy of an error (same prototype, so pino names its type) with message, stack and fields redacted. */
function redactError(err: Error, depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(err)) as Error;
  for (const [k, v] of Object.entries(err)) {
    (copy as unknown as Record<string, unknown>)[k] =
      isSecretKey(k) && v !== undefined ? REDACTED : redactLogValue(v, depth + 1);
  }
  const hidden = (key: string, v: unknown) =>
    Object.defineProperty(copy, key, { value: v, enumerable: false, writable: true, configurable: true });
  hidden('message', redactUrl(err.message));
  if (err.stack) hidden('stack', redactUrl(err.stack));
  if (err.cause !== undefined) hidden('cause', redactLogValue(err.cause, depth + 1));
  return copy;
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
