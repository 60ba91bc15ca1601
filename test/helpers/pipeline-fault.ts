import type { ModelHost } from '../../src/agent/model-host.js';
import { type PipelineHealth, watchDegradation } from '../../src/agent/resilience.js';
import type { Clock } from '../../src/clock.js';
import { type Fault, HealthFaults } from '../../src/health/faults.js';
import type { EventLog } from '../../src/store/records.js';

/**
 * The agent's degradation probes over a pipeline's state alone (no camera, no model trouble):
 * returns a reader of the `pipeline` fault as /healthz would list it.
 */
export function pipelineFault(
  clock: Pick<Clock, 'now'>,
  pipeline: () => PipelineHealth | undefined,
): () => Fault | undefined {
  const faults = new HealthFaults(clock);
  watchDegradation({
    faults,
    events: { emit: () => 0 } as unknown as EventLog,
    models: { fallback: undefined, broken: [], active: () => undefined } as unknown as ModelHost,
    camera: () => undefined,
    pipeline,
    model: { name: 'm', variant: { id: 'v' } },
  });
  return () => faults.list().find((f) => f.id === 'pipeline');
}
