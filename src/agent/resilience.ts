import type { HealthFaults } from '../health/faults.js';
import { faultTelemetry } from '../health/faults.js';
import type { Logger } from '../log.js';
import { DiskGuard, isDiskFullError } from '../store/disk-guard.js';
import type { Store } from '../store/index.js';
import type { NewOutboxMessage } from '../store/outbox.js';
import type { EventLog } from '../store/records.js';
import type { TelemetryCollector } from '../telemetry/collector.js';
import type { ReporterDeps } from '../telemetry/reporter.js';

export interface DiskWiringDeps {
  log: Logger;
  faults: HealthFaults;
  dataDir: string;
  /** The event log once the store is open. */
  events: () => EventLog | undefined;
  /** Straight to the broker (FleetService.publishLive); false when offline. */
  publishLive: (message: NewOutboxMessage) => boolean;
}

export interface DiskWiring {
  guard: DiskGuard;
  /** For the Store: an event that could not be written goes live instead of failing its emitter. */
  onEventWriteError: (err: unknown, message: NewOutboxMessage | undefined) => boolean;
}

/**
 * A full data directory degrades the agent instead of silencing it: the `disk-full` fault and
 * event, telemetry and events published live, and counts of what could not be kept.
 */
export function wireDiskGuard(deps: DiskWiringDeps): DiskWiring {
  const guard = new DiskGuard({
    log: deps.log.child({ component: 'disk' }),
    publishLive: deps.publishLive,
    onChange: (full, error) => {
      if (full) {
        deps.faults.raise(
          'disk-full',
          `data directory ${deps.dataDir} is full (${error ?? 'write refused'})`,
        );
        deps.events()?.emit('disk-full', { dataDir: deps.dataDir, error }, 'error');
      } else {
        deps.faults.clear('disk-full');
        deps.events()?.emit('disk-ok', { dataDir: deps.dataDir, ...guard.stats() });
      }
    },
  });
  return {
    guard,
    onEventWriteError: (err, message) => {
      if (!isDiskFullError(err)) return false;
      guard.failed('event', err);
      if (message) guard.sendLive(message);
      return true;
    },
  };
}

/**
 * The telemetry reporter's writers and snapshot as the agent gives them: history and outbox writes
 * through the disk guard, health and disk figures added to every record.
 */
export function guardedTelemetry(
  collector: TelemetryCollector,
  store: Store,
  guard: DiskGuard,
  faults: HealthFaults,
): Pick<ReporterDeps, 'collector' | 'metrics' | 'outbox'> {
  return {
    collector: {
      snapshot: () => {
        const disk = guard.stats();
        return {
          ...collector.snapshot(),
          ...faultTelemetry(faults.list()),
          diskFull: disk.full,
          diskWritesFailedTotal: disk.failedWritesTotal,
          outboxBypassedTotal: disk.publishedLiveTotal,
        };
      },
    },
    metrics: { record: (ts, fields) => void guard.write('metrics', () => store.metrics.record(ts, fields)) },
    outbox: { enqueue: (message) => guard.enqueue(store.outbox, message) },
  };
}
