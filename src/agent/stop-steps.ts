import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * Runs the stop steps of the agent in order, each bounded: a step that has not finished after
 * its budget is logged and left behind, so SIGTERM ends the process within seconds whatever one
 * component is stuck on (a hung broker, a camera tool that ignores signals, a busy derivation).
 */
export interface StopStep {
  name: string;
  /** Longest wait for this step, ms. */
  budgetMs: number;
  run(): Promise<unknown> | unknown;
}

export type StopOutcome = { name: string; outcome: 'done' | 'failed' | 'timed out'; ms: number };

export async function runStopSteps(
  steps: readonly StopStep[],
  log: Logger,
  now: () => number = () => performance.now(),
): Promise<StopOutcome[]> {
  const outcomes: StopOutcome[] = [];
  for (const step of steps) {
    const started = now();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timed out'>((resolve) => {
      timer = setTimeout(() => resolve('timed out'), step.budgetMs);
    });
    const outcome = await Promise.race([
      Promise.resolve()
        .then(() => step.run())
        .then(
          () => 'done' as const,
          (err) => {
            log.warn({ step: step.name, err: errorMessage(err) }, 'stop step failed');
            return 'failed' as const;
          },
        ),
      timedOut,
    ]);
    clearTimeout(timer);
    const ms = Math.round(now() - started);
    if (outcome === 'timed out')
      log.warn({ step: step.name, budgetMs: step.budgetMs }, 'stop step did not finish in time; going on');
    outcomes.push({ name: step.name, outcome, ms });
  }
  return outcomes;
}
