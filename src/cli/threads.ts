import { availableParallelism } from 'node:os';
import { UsageError } from '../errors.js';

/** The config's own bound on `inference.threads` (src/config/schema.ts); `--force` cannot pass it. */
export const MAX_THREADS = 256;

export interface ThreadsFlag {
  /** The command name, for the message (`infer: --threads ...`). */
  command: string;
  /** The raw flag value; undefined when the flag is absent. */
  value: string | undefined;
  /** Cores this process may run on (affinity and cgroup aware). */
  cores: number;
  /** `--force`: allow more threads than cores (still at most MAX_THREADS). */
  force?: boolean | undefined;
}

/**
 * `--threads N` of the one-shot commands: an integer in [0, cores] (0 = onnxruntime decides), or up
 * to MAX_THREADS with `--force`. Thousands of threads on a 4-core board only thrash it (observed:
 * `--threads 100000` ran 14,298 threads and 16.5 GB), so more than the cores is a usage error.
 */
export function parseThreadsFlag(flag: ThreadsFlag): number | undefined {
  const { command, value, cores } = flag;
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > MAX_THREADS) {
    throw new UsageError(
      `${command}: --threads expects an integer from 0 to ${MAX_THREADS} (0 = onnxruntime decides), got "${value}"`,
    );
  }
  if (n > cores && !flag.force) {
    throw new UsageError(
      `${command}: --threads ${n} is more than the ${cores} core${cores === 1 ? '' : 's'} this device has; ` +
        `use --threads ${cores} or fewer, or add --force`,
    );
  }
  return n;
}

/** Cores this process may use: CPU affinity (taskset, cpuset) respected. */
export function usableCores(): number {
  return Math.max(1, availableParallelism());
}
