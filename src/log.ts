import { type LevelWithSilent, type Logger, pino } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** File descriptor to write to: 1 for the daemon, 2 for CLI commands so stdout stays machine-readable. */
  fd?: 1 | 2;
}

/** One root logger per process; components take `log.child({ component })` from their deps. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      redact: {
        paths: ['*.password', '*.token', '*.key', 'config.http.token', 'config.mqtt.password'],
        censor: '[redacted]',
      },
    },
    pino.destination({ fd: options.fd ?? 1, sync: true }),
  );
}

/** A logger that drops everything, for tests and library callers that pass none. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
