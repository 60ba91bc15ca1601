import { EdgeAgentError } from '../../errors.js';

export type DeployStep =
  | 'verify'
  | 'space'
  | 'download'
  | 'checksum'
  | 'inspect'
  | 'validate'
  | 'install'
  | 'health'
  | 'rollback';

/** A deployment refused or failed at one step; the message says why, the active model is unchanged. */
export class DeployError extends EdgeAgentError {
  override name = 'DeployError';
  constructor(
    readonly step: DeployStep,
    message: string,
    options?: { cause?: unknown; retryable?: boolean },
  ) {
    super(`${step}: ${message}`, options);
    this.retryable = options?.retryable ?? false;
  }
  readonly retryable: boolean;
}
