import { EdgeAgentError } from '../errors.js';

/** A model file cannot be read as ONNX, or uses something the optimiser refuses (external data). */
export class OnnxFormatError extends EdgeAgentError {
  override name = 'OnnxFormatError';
}

/** A derivation cannot be done as asked (bad parameters, unsupported graph, fidelity floor unreachable). */
export class DerivationError extends EdgeAgentError {
  override name = 'DerivationError';
}

/** Long work was cancelled through its AbortSignal. */
export class AbortedError extends EdgeAgentError {
  override name = 'AbortedError';
  override readonly exitCode = 130;
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (!signal?.aborted) return;
  // A derivation stopped for a reason of its own (the memory watch) says so.
  if (signal.reason instanceof DerivationError) throw signal.reason;
  throw new AbortedError(`${what}: aborted`);
}
