// The agent's outward links, built from the composition root's parts: telemetry (collector and
// reporter), the MQTT fleet service (retried when the broker is not there) and the HTTP server.
// Parts that start later or change (sampler, pipeline, tuner, battery, fleet) are read through
// functions, so these builders hold no state of their own.
import type { CameraStateChange } from '../camera/types.js';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { redactSecrets } from '../config/redact.js';
import type { ConfigStore } from '../config/store.js';
import { ConfigError } from '../errors.js';
import { BrokerStartError } from '../fleet/embedded-broker.js';
import { type CommandTable, MODEL_LOCK } from '../fleet/router.js';
import { type FleetExtension, FleetService } from '../fleet/service.js';
import type { LiveSampler } from '../hardware/index.js';
import type { HealthFaults } from '../health/faults.js';
import { HttpServer, type RouteRegistrar } from '../http/server.js';
import type { Logger } from '../log.js';
import type { FrameResult, PipelineStats, RunningPipeline } from '../pipeline/types.js';
import type { DiskGuard } from '../store/disk-guard.js';
import type { Store } from '../store/index.js';
import { TelemetryCollector } from '../telemetry/collector.js';
import { TelemetryReporter } from '../telemetry/reporter.js';
import { systemCpuReader } from '../telemetry/sources.js';
import { commandGate } from '../trust/authorizer.js';
import type { AgentTuner } from '../tuner/agent-tuner.js';
import { batteryReadings, batteryTelemetry } from '../tuner/battery/agent-battery.js';
import type { BatteryReplanner } from '../tuner/battery/replanner.js';
import { decisionSummary } from '../tuner/report.js';
import { telemetryHardware } from './hardware.js';
import type { ModelHost } from './model-host.js';
import { guardedTelemetry, retryFleet } from './resilience.js';

/** What the links read from the running agent. */
export interface AgentParts {
  config: AgentConfig;
  deviceId: string;
  version: string;
  clock: Clock;
  /** The root logger (components add their own name). */
  log: Logger;
  /** The agent's own logger. */
  agentLog: Logger;
  store: Store;
  faults: HealthFaults;
  models: ModelHost;
  powerMode: () => string | undefined;
  sampler: () => LiveSampler | undefined;
  pipeline: () => RunningPipeline | undefined;
  tuner: () => AgentTuner | undefined;
  battery: () => BatteryReplanner | undefined;
  disk: () => DiskGuard | undefined;
  signal: AbortSignal;
}

/** The per-frame collector and the periodic reporter (started) of telemetry on `topic`. */
export function startTelemetry(
  parts: AgentParts,
  topic: string,
): { collector: TelemetryCollector; reporter: TelemetryReporter } {
  const { store } = parts;
  const collector = new TelemetryCollector({
    deviceId: parts.deviceId,
    clock: parts.clock,
    cpu: systemCpuReader(),
    sources: {
      active: () => parts.models.active(),
      hardware: () => telemetryHardware(parts.sampler()?.latest()),
      cameraState: () => parts.pipeline()?.stats().camera.state,
      powerMode: () => parts.powerMode(),
      extra: () => batteryTelemetry(parts.battery()?.status()),
      outbox: () => {
        const s = store.outbox.stats();
        // Messages lost to a full disk are counted in memory (the durable counter cannot be written).
        return {
          pending: s.pending,
          droppedTotal: s.droppedTotal + (parts.disk()?.stats().droppedTotal ?? 0),
        };
      },
    },
  });
  const reporter = new TelemetryReporter({
    ...guardedTelemetry(collector, store, parts.disk()!, parts.faults),
    topic,
    clock: parts.clock,
    log: parts.log.child({ component: 'telemetry' }),
    intervalS: parts.config.telemetry.intervalS,
  });
  reporter.start(parts.signal);
  return { collector, reporter };
}

/**
 * The MQTT link. A broker that cannot be reached or started (or a bad MQTT config) does not stop
 * the agent: inference and HTTP go on, telemetry accumulates in the outbox, and the link is retried
 * with backoff; `attach` gets the service once it is connected (at once, or after a retry).
 */
export async function startFleet(
  parts: AgentParts,
  options: {
    commands: CommandTable;
    extensions: FleetExtension[];
    info: () => Record<string, unknown>;
    attach: (fleet: FleetService | undefined) => void;
  },
): Promise<void> {
  const { config, store } = parts;
  const fleet = new FleetService({
    config: config.mqtt,
    deviceId: parts.deviceId,
    version: parts.version,
    clock: parts.clock,
    log: parts.log,
    outbox: store.outbox,
    audit: store.audit,
    events: store.events,
    commands: options.commands,
    info: options.info,
    dataDir: config.dataDir,
    extensions: options.extensions,
    lockHolder: (lock) => (lock === MODEL_LOCK ? parts.tuner()?.controller.tuning() : undefined),
    authorize: commandGate({
      config: config.trust,
      deviceId: parts.deviceId,
      clock: parts.clock,
      log: parts.agentLog,
      db: store.db,
    }),
  });
  options.attach(fleet);
  try {
    await fleet.start(parts.signal);
  } catch (err) {
    if (!(err instanceof BrokerStartError || err instanceof ConfigError)) throw err;
    options.attach(undefined);
    retryFleet({
      fleet,
      error: err,
      config: config.mqtt,
      faults: parts.faults,
      events: store.events,
      clock: parts.clock,
      log: parts.agentLog,
      signal: parts.signal,
      started: () => options.attach(fleet),
    });
  }
}

/** The retained `info` document (config with secrets redacted). */
export function agentInfo(
  parts: AgentParts,
  more: { configStore: ConfigStore | undefined; startedAt: number; update: unknown },
): Record<string, unknown> {
  const config = more.configStore?.effective() ?? parts.config;
  const decision = parts.tuner()?.controller.current();
  return {
    deviceId: parts.deviceId,
    version: parts.version,
    startedAt: new Date(more.startedAt).toISOString(),
    ...parts.models.active(),
    powerMode: parts.powerMode() ?? null,
    groups: config.mqtt.groups,
    decision: decision ? decisionSummary(decision) : null,
    config: redactSecrets(config),
    update: more.update ?? null,
  };
}

/** The HTTP server (not started): API, stream, /metrics and the dashboard. */
export function createHttp(
  parts: AgentParts,
  options: {
    pipeline: RunningPipeline;
    routes: RouteRegistrar[];
    telemetry: () => TelemetryReporter | undefined;
  },
): HttpServer {
  return new HttpServer({
    config: parts.config.http,
    log: parts.log.child({ component: 'http' }),
    clock: parts.clock,
    pipeline: options.pipeline,
    routes: options.routes,
    version: parts.version,
    deviceId: parts.deviceId,
    getReadings: async () => {
      const s = parts.sampler()?.latest();
      if (!s) return undefined;
      return {
        temperaturesC: s.temperaturesC,
        ...(s.batteryPercent !== undefined ? { batteryPercent: s.batteryPercent } : {}),
        ...(s.powerSource !== 'unknown' ? { onBattery: s.powerSource === 'battery' } : {}),
        ...(s.powerW !== undefined ? { powerW: s.powerW } : {}),
        ...batteryReadings(parts.battery()?.status()),
      };
    },
    getTelemetry: () => options.telemetry()?.latest(),
    faults: () => parts.faults.list(),
    history: (field, fromMs, toMs) => parts.store.metrics.history(field, fromMs, toMs),
  });
}

/** Camera state changes that are events: lost (offline) and back (online after a stall or outage). */
export function cameraEvents(
  source: { description(): string },
  events: Store['events'],
): (change: CameraStateChange) => void {
  return (change) => {
    const data = { source: source.description(), from: change.previous, reason: change.reason };
    if (change.state === 'offline') events.emit('camera-lost', data, 'warning');
    else if (change.state === 'online' && (change.previous === 'offline' || change.previous === 'stalled'))
      events.emit('camera-back', data);
  };
}

/**
 * Each result to the MQTT results topic (the fleet link applies its own rate limit), and to the
 * log: every result at debug level; at info one line every 5 s, so a terminal stays readable.
 */
export function resultReporter(deps: {
  fleet: () => FleetService | undefined;
  stats: () => PipelineStats | undefined;
  clock: Clock;
  log: Logger;
}): (result: FrameResult) => void {
  let lastInfoAt = Number.NEGATIVE_INFINITY;
  return (result) => {
    deps.fleet()?.publishResult({
      ts: result.capturedAtMs,
      seq: result.seq,
      origin: result.origin,
      model: result.model,
      variant: result.variant,
      task: result.task,
      imageWidth: result.imageWidth,
      imageHeight: result.imageHeight,
      timings: result.timings,
      ...(result.detections ? { detections: result.detections } : {}),
      ...(result.classes ? { classes: result.classes } : {}),
    });
    const now = deps.clock.now();
    const level = now - lastInfoAt >= 5000 ? 'info' : 'debug';
    if (!deps.log.isLevelEnabled(level)) return;
    if (level === 'info') lastInfoAt = now;
    const summary =
      result.task === 'detection'
        ? (result.detections ?? []).map((d) => `${d.label} ${d.score.toFixed(2)}`)
        : (result.classes ?? []).slice(0, 3).map((c) => `${c.label} ${c.score.toFixed(2)}`);
    deps.log[level](
      {
        seq: result.seq,
        frame: result.origin,
        timings: result.timings,
        results: summary,
        fps: deps.stats()?.fps,
      },
      'inference',
    );
  };
}
