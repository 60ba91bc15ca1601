/**
 * Typed errors that say what was attempted and what to do next. The CLI prints `name: message`
 * on one line for these; anything else is a bug and gets a stack trace at debug level only.
 */
export class EdgeAgentError extends Error {
  override name = 'EdgeAgentError';
  /** Process exit code the CLI uses when this error ends a command. */
  readonly exitCode: number = 1;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Bad command-line usage: unknown flag, missing argument. */
export class UsageError extends EdgeAgentError {
  override name = 'UsageError';
  override readonly exitCode = 2;
}

/** The config file is missing, unreadable, not JSON or fails validation. */
export class ConfigError extends EdgeAgentError {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly problems: readonly string[] = [],
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A model or variant cannot be found, verified or loaded. */
export class ModelLoadError extends EdgeAgentError {
  override name = 'ModelLoadError';
}

/** An input image cannot be read or decoded. */
export class ImageDecodeError extends EdgeAgentError {
  override name = 'ImageDecodeError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
