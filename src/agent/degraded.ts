import { type BackoffPolicy, backoffDelayMs } from '../camera/health.js';
import { type Clock, isAbortError } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Catalog } from '../models/catalog.js';

/**
 * Degrade instead of exit: what the agent does when a part it needs is broken at start (a corrupt
 * model, a missing CA file, a broker port taken). Exiting only makes systemd restart it into the
 * same fault; running on with what works, and saying what is wrong, is more useful.
 */

export interface ModelChoice {
  model: string;
  /** undefined: the manifest's default variant. */
  variant: string | undefined;
}

/**
 * The order in which to try models when the configured one cannot be loaded: the configured
 * choice, the other variants of the same model (bundled ones first, as listed), then the default
 * variant of every other model. Pure; unknown names yield only the configured choice first.
 */
export function fallbackCandidates(catalog: Pick<Catalog, 'models'>, wanted: ModelChoice): ModelChoice[] {
  const out: ModelChoice[] = [wanted];
  const seen = new Set<string>();
  const key = (c: ModelChoice, defaultVariant?: string) => `${c.model}/${c.variant ?? defaultVariant ?? ''}`;
  const entries = catalog.models();
  const same = entries.find((e) => e.manifest.name === wanted.model);
  seen.add(key(wanted, same?.manifest.defaultVariant));
  const push = (c: ModelChoice) => {
    if (seen.has(key(c))) return;
    seen.add(key(c));
    out.push(c);
  };
  if (same) {
    const ordered = [...same.variants.filter((v) => !v.derived), ...same.variants.filter((v) => v.derived)];
    for (const v of ordered) push({ model: wanted.model, variant: v.id });
  }
  for (const e of entries) {
    if (e.manifest.name === wanted.model) continue;
    push({ model: e.manifest.name, variant: e.manifest.defaultVariant });
  }
  return out;
}

export interface FallbackResult<M> {
  model: M;
  used: ModelChoice;
  /** The candidates that failed before, with why (empty when the configured one loaded). */
  failures: Array<{ choice: ModelChoice; error: string }>;
}

/**
 * Loads the first candidate that loads (the loader verifies sha256 and builds the session). Throws
 * the configured choice's error when none does.
 */
export async function loadWithFallback<M>(
  candidates: readonly ModelChoice[],
  load: (choice: ModelChoice) => Promise<M>,
  log: Logger,
): Promise<FallbackResult<M>> {
  const failures: FallbackResult<M>['failures'] = [];
  let first: unknown;
  for (const choice of candidates) {
    try {
      const model = await load(choice);
      return { model, used: choice, failures };
    } catch (err) {
      first ??= err;
      failures.push({ choice, error: errorMessage(err) });
      log.error(
        { model: choice.model, variant: choice.variant, err: errorMessage(err) },
        'model cannot be loaded',
      );
    }
  }
  throw first;
}

export interface RetryOptions {
  clock: Clock;
  signal: AbortSignal;
  policy: BackoffPolicy;
  random?: () => number;
  /** After each failed attempt, with the delay before the next. */
  onFailure: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Retries `attempt` with exponential backoff and jitter until it succeeds (true) or the signal
 * ends it (false). The first attempt is made after the first delay: the caller has just failed one.
 */
export async function retryWithBackoff(
  attempt: () => Promise<void>,
  options: RetryOptions,
): Promise<boolean> {
  const random = options.random ?? Math.random;
  for (let failures = 1; !options.signal.aborted; failures++) {
    const delayMs = backoffDelayMs(failures, options.policy, random());
    try {
      await options.clock.sleep(delayMs, options.signal);
    } catch (err) {
      if (isAbortError(err)) return false;
      throw err;
    }
    try {
      await attempt();
      return true;
    } catch (err) {
      if (options.signal.aborted) return false;
      options.onFailure(err, failures + 1, backoffDelayMs(failures + 1, options.policy, random()));
    }
  }
  return false;
}
