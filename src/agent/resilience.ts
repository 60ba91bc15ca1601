import type { CameraStatus } from '../camera/types.js';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { redactUrl } from '../config/redact.js';
import { errorMessage } from '../errors.js';
import type { FleetService } from '../fleet/service.js';
import type { HealthFaults } from '../health/faults.js';
import { faultTelemetry } from '../health/faults.js';
import type { Logger } from '../log.js';
import type { PipelineStats } from '../pipeline/types.js';
import { DiskGuard, isDiskFullError } from '../store/disk-guard.js';
import type { Store } from '../store/index.js';
import type { NewOutboxMessage } from '../store/outbox.js';
import type { EventLog } from '../store/records.js';
import type { TelemetryCollector } from '../telemetry/collector.js';
import type { ReporterDeps } from '../telemetry/reporter.js';
import { retryWithBackoff } from './degraded.js';
import type { ModelHost } from './model-host.js';

/** What the `pipeline` fault reads of the pipeline's stats. */
export interface PipelineHealth {
  state: string;
  lastError?: string | undefined;
  restarts?: PipelineStats['restarts'] | undefined;
}

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

export interface DegradationDeps {
  faults: HealthFaults;
  events: EventLog;
  models: ModelHost;
  camera: () => CameraStatus | undefined;
  /** The pipeline's state; `failed` (its worker crashed, its source cannot be read) is a fault. */
  pipeline?: () => PipelineHealth | undefined;
  /** The model that did load. */
  model: { name: string; variant: { id: string } };
}

/**
 * Faults read from the parts' own state: the camera offline (a missing folder or device, retried
 * with backoff), the configured model replaced by a fallback, bundled models skipped as unreadable,
 * the pipeline failed (inference off; the rest of the agent serves on).
 * A fallback at start is also an event.
 */
export function watchDegradation(deps: DegradationDeps): void {
  const { faults, models } = deps;
  const fallback = models.fallback;
  if (fallback) {
    const wanted = fallback.failures[0]!;
    const data = {
      wanted: `${wanted.choice.model}/${wanted.choice.variant ?? 'default'}`,
      used: `${deps.model.name}/${deps.model.variant.id}`,
      error: wanted.error,
      tried: fallback.failures.map((f) => `${f.choice.model}/${f.choice.variant ?? 'default'}`),
    };
    deps.events.emit('model-fallback', data, 'error');
  }
  const since = Date.now();
  faults.probe(() => {
    const f = models.fallback;
    if (!f) return undefined;
    const wanted = f.failures[0]!;
    const active = models.active();
    return {
      id: 'model-fallback',
      severity: 'error',
      message: `${wanted.choice.model}/${wanted.choice.variant ?? 'default'} cannot be loaded (${wanted.error}); running ${active?.model}/${active?.variant} instead`,
      sinceMs: since,
    };
  });
  faults.probe(() =>
    models.broken.length === 0
      ? undefined
      : {
          id: 'models-unreadable',
          severity: 'warning',
          message: models.broken.map((b) => `${b.file}: ${b.error}`).join('; '),
          sinceMs: since,
        },
  );
  let failedSince: number | undefined;
  faults.probe(() => {
    const p = deps.pipeline?.();
    if (p?.state !== 'failed') {
      failedSince = undefined;
      return undefined;
    }
    failedSince ??= Date.now();
    const next = p.restarts?.nextAtMs;
    const retry =
      next !== undefined
        ? `restarting it in ${Math.max(0, Math.ceil((next - Date.now()) / 1000))} s (attempt ${p.restarts!.failures})`
        : p.restarts
          ? 'restarting it now'
          : 'the restart command (MQTT, or POST /api/controls/restart) runs it again';
    return {
      id: 'pipeline',
      severity: 'error',
      // /healthz needs no token: a camera URL's password in an error must not reach it.
      message: `inference stopped: ${redactUrl(p.lastError ?? 'the pipeline failed')}; HTTP and MQTT go on; ${retry}`,
      sinceMs: failedSince,
    };
  });
  faults.probe(() => {
    const camera = deps.camera();
    if (camera?.state !== 'offline') return undefined;
    return {
      id: 'camera',
      severity: 'error',
      message: `camera ${camera.source} offline${camera.lastError ? `: ${camera.lastError}` : ''} (retrying)`,
      sinceMs: camera.sinceMs,
    };
  });
}

export interface RetryFleetDeps {
  fleet: FleetService;
  error: Error;
  config: AgentConfig['mqtt'];
  faults: HealthFaults;
  events: EventLog;
  clock: Clock;
  log: Logger;
  signal: AbortSignal;
  /** The fleet is up at last: the agent takes it over. */
  started: () => void;
}

/**
 * MQTT could not start (a missing CA file, the embedded broker's port taken): the `mqtt` fault and
 * an `mqtt-unavailable` event, then retries in the background with the reconnect backoff.
 */
export function retryFleet(deps: RetryFleetDeps): void {
  const { faults, log } = deps;
  const report = (err: unknown) => faults.raise('mqtt', `MQTT unavailable: ${errorMessage(err)} (retrying)`);
  log.error({ err: deps.error.message }, 'MQTT unavailable; retrying in the background');
  report(deps.error);
  deps.events.emit('mqtt-unavailable', { error: deps.error.message }, 'error');
  const { minDelayS, maxDelayS } = deps.config.reconnect;
  void retryWithBackoff(
    // A failed start left nothing running (the broker or the link failed before starting).
    () => deps.fleet.start(deps.signal),
    {
      clock: deps.clock,
      signal: deps.signal,
      policy: { initialMs: minDelayS * 1000, maxMs: maxDelayS * 1000, factor: 2, jitter: 0.2 },
      onFailure: (err, attempt, delayMs) => {
        report(err);
        log.debug({ err: errorMessage(err), attempt, retryInMs: delayMs }, 'MQTT still unavailable');
      },
    },
  ).then((ok) => {
    if (!ok) return;
    if (deps.signal.aborted) {
      // The agent began stopping while this attempt connected: it will not stop this fleet.
      void deps.fleet.stop().catch(() => undefined);
      return;
    }
    deps.started();
    faults.clear('mqtt');
    deps.events.emit('mqtt-available', {});
    log.info('MQTT available again');
  });
}
