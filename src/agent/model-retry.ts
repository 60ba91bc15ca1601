import type { BackoffPolicy } from '../camera/health.js';
import type { Clock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { HealthFaults } from '../health/faults.js';
import type { Logger } from '../log.js';
import type { RunningPipeline } from '../pipeline/types.js';
import type { EventLog } from '../store/records.js';
import { retryWithBackoff } from './degraded.js';
import type { ModelHost } from './model-host.js';

/**
 * No loadable model at start (src/agent/no-model.ts): the catalogue is read again on a backoff
 * until a model loads; `set-model` or a deployed model ends the wait sooner. The first attempts
 * come quickly (a models folder being copied in), then every two minutes at most.
 */
export const MODEL_RETRY_POLICY: BackoffPolicy = { initialMs: 2000, maxMs: 120_000, factor: 2, jitter: 0.2 };

export interface WithoutModelDeps {
  models: Pick<ModelHost, 'unavailable' | 'loadFirst' | 'onFirstModel' | 'active'>;
  modelsDir: string;
  faults: HealthFaults;
  events: EventLog;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  /** Starts inference once a model is there. */
  start: () => void;
  policy?: BackoffPolicy;
}

/**
 * The agent runs on without a model: the `model-unavailable` fault (in /healthz, telemetry and
 * the retained status) and event, inference off, and the catalogue retried in the background.
 */
export function runWithoutModel(deps: WithoutModelDeps): void {
  const { models, log } = deps;
  const first = models.unavailable ?? { error: 'no model loaded', sinceMs: deps.clock.now() };
  log.error(
    { err: first.error, modelsDir: deps.modelsDir },
    'no loadable model: serving without inference; retrying the catalogue in the background',
  );
  deps.events.emit('model-unavailable', { error: first.error, modelsDir: deps.modelsDir }, 'error');
  deps.faults.probe(() => {
    const u = models.unavailable;
    if (!u) return undefined;
    return {
      id: 'model-unavailable',
      severity: 'error',
      message: `no model can be loaded (${u.error}); inference is off, retrying (or send set-model / deploy-model)`,
      sinceMs: u.sinceMs,
    };
  });
  models.onFirstModel(() => {
    if (deps.signal.aborted) return;
    deps.events.emit('model-available', { ...models.active() });
    deps.start();
  });
  void retryWithBackoff(() => models.loadFirst(), {
    clock: deps.clock,
    signal: deps.signal,
    policy: deps.policy ?? MODEL_RETRY_POLICY,
    onFailure: (err, attempt, delayMs) => {
      models.unavailable = { error: errorMessage(err), sinceMs: first.sinceMs };
      log.warn({ err: errorMessage(err), attempt, retryInMs: delayMs }, 'still no loadable model');
    },
  });
}

/**
 * Starts the pipeline (unless the agent is stopping); its end with an error is logged and handed to
 * `onFailed` (the agent records a `pipeline-failed` event; the `pipeline` fault reads the state).
 */
export function startPipeline(
  pipeline: RunningPipeline,
  signal: AbortSignal,
  log: Logger,
  onFailed?: (error: string) => void,
): void {
  if (signal.aborted) return;
  pipeline.start(signal);
  pipeline.finished().catch((err) => {
    log.error({ err: errorMessage(err) }, 'pipeline stopped with an error');
    if (!signal.aborted) onFailed?.(errorMessage(err));
  });
}
