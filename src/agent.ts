import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { configDecision } from './agent/decision.js';
import { agentFeatures } from './agent/features.js';
import { forwardSamplerEvents, PowerModeTracker, telemetryHardware } from './agent/hardware.js';
import { ModelHost } from './agent/model-host.js';
import { runWithoutModel, startPipeline } from './agent/model-retry.js';
import { noModel } from './agent/no-model.js';
import { guardedTelemetry, retryFleet, watchDegradation, wireDiskGuard } from './agent/resilience.js';
import { runStopSteps } from './agent/stop-steps.js';
import { type Clock, systemClock } from './clock.js';
import { resolveDeviceId } from './config/device-id.js';
import type { AgentConfig } from './config/index.js';
import { redactSecrets, redactUrl } from './config/redact.js';
import type { ConfigStore } from './config/store.js';
import { ConfigError, errorMessage } from './errors.js';
import {
  commandTable,
  type Feature,
  routeRegistrars,
  startFeatures,
  stopFeatures,
} from './features/feature.js';
import { BrokerStartError } from './fleet/embedded-broker.js';
import { type CommandTable, MODEL_LOCK } from './fleet/router.js';
import { type FleetExtension, FleetService } from './fleet/service.js';
import { deviceTopics } from './fleet/topics.js';
import { type DeviceProfile, LiveSampler, readProfile } from './hardware/index.js';
import { HealthFaults } from './health/faults.js';
import { HttpServer, type RouteRegistrar } from './http/server.js';
import type { Logger } from './log.js';
import { packageRoot } from './paths.js';
import { pacingFromConfig } from './pipeline/config.js';
import { createAgentPipeline, type PreparedPipeline, prepareAgentPipeline } from './pipeline/create.js';
import type { FrameResult, PipelineModel, PipelineStats, RunningPipeline } from './pipeline/types.js';
import type { DiskGuard } from './store/disk-guard.js';
import { Store } from './store/index.js';
import { TelemetryCollector } from './telemetry/collector.js';
import { TelemetryReporter } from './telemetry/reporter.js';
import { systemCpuReader } from './telemetry/sources.js';
import { commandGate } from './trust/authorizer.js';
import { type AgentTuner, createAgentTuner } from './tuner/agent-tuner.js';
import { batteryReadings, batteryTelemetry, createAgentBattery } from './tuner/battery/agent-battery.js';
import type { BatteryReplanner } from './tuner/battery/replanner.js';
import { decisionJson, decisionSummary } from './tuner/report.js';

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  clock?: Clock;
  /** The config file the agent was started with (set-config persists to it). */
  configFile?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
}

/** Exit code after a `restart` command: the service manager (systemd Restart=always) starts it again. */
export const RESTART_EXIT_CODE = 75;

export function agentVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/**
 * The composition root: builds every component from the config, owns their start and stop.
 * Store → models → hardware sampler → telemetry → camera + pipeline (built, not yet running) →
 * features (src/features/: commands, routes, live keys) → MQTT → HTTP → pipeline running.
 * Components talk through the small functions handed to them here, never through each other's
 * internals.
 */
export class Agent {
  readonly deviceId: string;
  /** Camera → model → results; other parts read stats and results from it, swap models on it. */
  pipeline: RunningPipeline | undefined;
  /** Local API, stream, /metrics and dashboard (absent when http.enabled is false). */
  http: HttpServer | undefined;
  fleet: FleetService | undefined;
  /** The newest inferred result. */
  latest: FrameResult | undefined;
  /** Set when a `restart` command asked for a restart; the CLI exits with RESTART_EXIT_CODE. */
  restartRequested: string | undefined;
  /** What is degraded (disk full, camera, model fallback, MQTT): shown by /healthz and telemetry. */
  readonly faults: HealthFaults;

  private readonly log: Logger;
  private readonly clock: Clock;
  private deployUpdate: (() => unknown) | undefined;
  private readonly abort = new AbortController();
  private readonly models: ModelHost;
  private readonly powerMode = new PowerModeTracker();
  private features: Feature[] = [];
  private store: Store | undefined;
  /** The tuner: cached decision at start, background tune, power-mode / drift / memory triggers. */
  tuner: AgentTuner | undefined;
  /** The battery planner (policy.batteryHours), started and stopped as a feature. */
  battery: BatteryReplanner | undefined;
  private disk: DiskGuard | undefined;
  private sampler: LiveSampler | undefined;
  private collector: TelemetryCollector | undefined;
  private telemetry: TelemetryReporter | undefined;
  private configStore: ConfigStore | undefined;
  private profile: Promise<DeviceProfile> | undefined;
  private runId: number | undefined;
  private startedAt = 0;
  private lastResultLogAt = Number.NEGATIVE_INFINITY;
  private stopping: Promise<void> | undefined;
  /** Resolves when the pipeline starts (at once, or once a first model loads) or the agent stops. */
  private pipelineStarted: () => void = () => undefined;
  private readonly pipelineStart = new Promise<void>((resolve) => {
    this.pipelineStarted = resolve;
  });

  constructor(private readonly deps: AgentDeps) {
    this.log = deps.log.child({ component: 'agent' });
    this.clock = deps.clock ?? systemClock;
    this.deviceId = resolveDeviceId(deps.config.deviceId);
    this.models = new ModelHost(deps.config, this.log);
    this.faults = new HealthFaults(this.clock);
  }

  /** Starts everything; resolves once the pipeline is running. Abort `signal` (or call stop) to end. */
  async start(signal?: AbortSignal): Promise<void> {
    const { config } = this.deps;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    mkdirSync(config.dataDir, { recursive: true });
    this.startedAt = this.clock.now();
    const topics = deviceTopics(config.mqtt.prefix, this.deviceId);
    const disk = wireDiskGuard({
      log: this.deps.log,
      faults: this.faults,
      dataDir: config.dataDir,
      events: () => this.store?.events,
      publishLive: (m) => this.fleet?.publishLive(m) ?? false,
    });
    this.disk = disk.guard;
    const store = new Store({
      file: path.join(config.dataDir, 'edge-agent.db'),
      config: config.store,
      clock: this.clock,
      log: this.deps.log,
      eventsTopic: topics.events,
      onEventWriteError: disk.onEventWriteError,
    });
    this.store = store;
    store.start(this.abort.signal);

    // The pipeline worker loads its modules while the model loads.
    const preparedPipeline = prepareAgentPipeline(this.deps.clock);
    // No loadable model at all: start degraded around a stand-in, inference off (agent/no-model.ts).
    const loaded = await this.models.loadInitial();
    const model = loaded ?? noModel(() => this.models.unavailable?.error ?? 'none loaded yet');
    watchDegradation({
      faults: this.faults,
      events: store.events,
      models: this.models,
      camera: () => this.pipeline?.stats().camera,
      model,
    });
    this.runId = Number(
      store.db
        .prepare('INSERT INTO agent_runs (started_at, version, model, variant) VALUES (?, ?, ?, ?)')
        .run(this.clock.now(), agentVersion(), model.name, model.variant.id).lastInsertRowid,
    );
    this.log.info(
      {
        deviceId: this.deviceId,
        model: model.name,
        variant: model.variant.id,
        executionProvider: model.executionProvider,
        source: redactUrl(config.camera.source),
        dataDir: config.dataDir,
      },
      'agent started',
    );

    await this.startSampler();
    this.startTelemetry(topics.telemetry);
    const pipeline = this.buildPipeline(model, store, preparedPipeline);
    this.tuner = createAgentTuner({
      config,
      profile: () => this.getProfile(),
      models: this.models,
      pipeline,
      store,
      sampler: this.sampler,
      clock: this.clock,
      log: this.deps.log,
    });
    this.battery = createAgentBattery({
      config,
      profile: () => this.getProfile(),
      pipeline,
      sampler: this.sampler,
      decision: () => this.tuner?.controller.current(),
      events: store.events,
      clock: this.clock,
      log: this.deps.log,
    });
    const built = agentFeatures({
      config,
      configFile: { file: this.deps.configFile, env: this.deps.env ?? process.env },
      deviceId: this.deviceId,
      version: agentVersion(),
      startedAtMs: this.startedAt,
      clock: this.clock,
      log: this.log,
      signal: this.abort.signal,
      models: this.models,
      pipeline,
      store,
      telemetry: this.telemetry!,
      decision: () => {
        // The tuner's decision in force when there is one, else the configured choice.
        const d = this.tuner?.controller.current();
        return d
          ? { source: 'tuner', variant: d.chosen?.variant ?? null, ts: d.decidedAt, ...decisionJson(d) }
          : configDecision(config, pipeline.stats());
      },
      tuner: this.tuner.controller,
      battery: this.battery,
      profile: () => this.getProfile(),
      restart: (reason) => {
        this.restartRequested = reason;
        this.log.warn({ reason }, 'restart requested');
        void this.stop();
      },
      fleet: () => this.fleet,
      faults: this.faults,
    });
    this.features = built.features;
    this.configStore = built.configStore;
    this.deployUpdate = built.update;
    await startFeatures(this.features, this.abort.signal);
    // Cold start: the camera (whose capture process takes the longest to deliver) starts first,
    // the MQTT link and the HTTP server start side by side (docs/memory.md, cold start).
    const start = () => {
      startPipeline(pipeline, this.abort.signal, this.log);
      this.pipelineStarted();
      // Started without a model, the tuner could not start either: it starts with the first model.
      if (!loaded) void this.tuner?.controller.retryStart();
    };
    if (loaded) start();
    else {
      runWithoutModel({
        models: this.models,
        modelsDir: config.models.dir,
        faults: this.faults,
        events: store.events,
        clock: this.clock,
        log: this.log,
        signal: this.abort.signal,
        start,
      });
    }
    await Promise.all([
      this.startFleet(commandTable(this.features), built.extensions),
      config.http.enabled ? this.startHttp(pipeline, routeRegistrars(this.features)) : undefined,
    ]);
  }

  /** Camera and pipeline, built but not running (features subscribe to it before it starts). */
  private buildPipeline(model: PipelineModel, store: Store, prepared: PreparedPipeline): RunningPipeline {
    const { config } = this.deps;
    const pipelineLog = this.deps.log.child({ component: 'pipeline' });
    // Capture, preparation and decoding run in a worker thread (docs/camera.md, per-frame cost).
    const { pipeline, camera: source } = createAgentPipeline({
      camera: config.camera,
      imageLimits: { maxPixels: config.inference.maxInputPixels },
      model,
      pacing: pacingFromConfig(config.pipeline),
      maxFrameAgeMs: config.pipeline.maxFrameAgeMs,
      scaleInCapture: config.camera.scaleInCapture,
      log: pipelineLog,
      relayLog: this.deps.log,
      ...(this.deps.clock ? { clock: this.deps.clock } : {}),
      signal: this.abort.signal,
      prepared,
    });
    source.onStateChange((change) => {
      const data = { source: source.description(), from: change.previous, reason: change.reason };
      if (change.state === 'offline') store.events.emit('camera-lost', data, 'warning');
      else if (
        change.state === 'online' &&
        (change.previous === 'offline' || change.previous === 'stalled')
      ) {
        store.events.emit('camera-back', data);
      }
    });
    this.pipeline = pipeline;
    this.models.attach(pipeline);
    pipeline.onResult((r) => this.onResult(r, pipelineLog));
    return pipeline;
  }

  private onResult(result: FrameResult, log: Logger): void {
    this.latest = result;
    this.collector?.observeFrame({ seq: result.seq, timings: { ...result.timings } });
    this.fleet?.publishResult({
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
    // Every result at debug level; at info, one line every 5 s so a terminal stays readable.
    const now = this.clock.now();
    const level = now - this.lastResultLogAt >= 5000 ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    if (level === 'info') this.lastResultLogAt = now;
    const summary =
      result.task === 'detection'
        ? (result.detections ?? []).map((d) => `${d.label} ${d.score.toFixed(2)}`)
        : (result.classes ?? []).slice(0, 3).map((c) => `${c.label} ${c.score.toFixed(2)}`);
    log[level](
      {
        seq: result.seq,
        frame: result.origin,
        timings: result.timings,
        results: summary,
        fps: this.pipeline?.stats().fps,
      },
      'inference',
    );
  }

  /**
   * Resolves when the pipeline ends on its own (source exhausted) or after stop(); rejects when
   * the camera failed for good (a capture tool missing), so `edge-agent run` exits non-zero.
   */
  async finished(): Promise<PipelineStats | undefined> {
    await this.pipelineStart;
    return this.pipeline?.finished();
  }

  /** The latest telemetry record (also rendered on `/metrics`). */
  latestTelemetry() {
    return this.telemetry?.latest();
  }

  /** Stops everything in reverse order, releases the model and closes the database. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.abort.abort();
    this.pipelineStarted();
    // Every step bounded (issue 12 item 8): SIGTERM exits within 3 s whatever is stuck.
    await runStopSteps(
      [
        { name: 'http', budgetMs: 300, run: () => this.http?.stop() },
        { name: 'pipeline', budgetMs: 500, run: () => this.pipeline?.stop() },
        {
          name: 'features',
          budgetMs: 400,
          run: () =>
            stopFeatures(this.features, (feature, err) =>
              this.log.warn({ feature, err: errorMessage(err) }, 'feature stop failed'),
            ),
        },
        { name: 'telemetry', budgetMs: 200, run: () => this.telemetry?.stop() },
        { name: 'mqtt', budgetMs: 1100, run: () => this.fleet?.stop() },
        { name: 'sampler', budgetMs: 200, run: () => this.sampler?.stop() },
        { name: 'model', budgetMs: 300, run: () => this.models.dispose() },
      ],
      this.log,
    );
    const counters = this.pipeline ? { ...this.pipeline.stats().counters } : undefined;
    if (this.store) {
      if (this.runId !== undefined) {
        // A full disk must not keep the database from closing (nor turn SIGTERM into exit 1).
        try {
          this.store.db
            .prepare('UPDATE agent_runs SET stopped_at = ?, frames_processed = ? WHERE id = ?')
            .run(this.clock.now(), counters?.processed ?? 0, this.runId);
        } catch (err) {
          this.log.warn({ err: errorMessage(err) }, 'recording the end of the run failed');
        }
      }
      await this.store
        .stop()
        .catch((err) => this.log.warn({ err: errorMessage(err) }, 'closing the database failed'));
    }
    this.log.info({ ...counters }, 'agent stopped');
  }

  private getProfile(): Promise<DeviceProfile> {
    // Read once, on first use (it probes the execution providers), then kept.
    this.profile ??= readProfile({
      root: this.deps.config.hardware.root,
      dataDir: this.deps.config.dataDir,
      log: this.log,
    });
    return this.profile;
  }

  /** Battery, power, heat, memory: hardware changes become events on the MQTT events topic. */
  private async startSampler(): Promise<void> {
    const { config } = this.deps;
    const sampler = new LiveSampler({
      root: config.hardware.root,
      clock: this.clock,
      log: this.deps.log.child({ component: 'hardware' }),
      options: config.hardware.sampler,
    });
    this.sampler = sampler;
    forwardSamplerEvents(sampler, this.store!.events, this.powerMode);
    await sampler.start(this.abort.signal);
  }

  private startTelemetry(topic: string): void {
    const store = this.store!;
    this.collector = new TelemetryCollector({
      deviceId: this.deviceId,
      clock: this.clock,
      cpu: systemCpuReader(),
      sources: {
        active: () => this.models.active(),
        hardware: () => telemetryHardware(this.sampler?.latest()),
        cameraState: () => this.pipeline?.stats().camera.state,
        powerMode: () => this.powerMode.current(),
        extra: () => batteryTelemetry(this.battery?.status()),
        outbox: () => {
          const s = store.outbox.stats();
          // Messages lost to a full disk are counted in memory (the durable counter cannot be written).
          return {
            pending: s.pending,
            droppedTotal: s.droppedTotal + (this.disk?.stats().droppedTotal ?? 0),
          };
        },
      },
    });
    this.telemetry = new TelemetryReporter({
      ...guardedTelemetry(this.collector, store, this.disk!, this.faults),
      topic,
      clock: this.clock,
      log: this.deps.log.child({ component: 'telemetry' }),
      intervalS: this.deps.config.telemetry.intervalS,
    });
    this.telemetry.start(this.abort.signal);
  }

  private async startFleet(commands: CommandTable, extensions: FleetExtension[]): Promise<void> {
    const { config } = this.deps;
    const store = this.store!;
    this.fleet = new FleetService({
      config: config.mqtt,
      deviceId: this.deviceId,
      version: agentVersion(),
      clock: this.clock,
      log: this.deps.log,
      outbox: store.outbox,
      audit: store.audit,
      events: store.events,
      commands,
      info: () => this.info(),
      dataDir: config.dataDir,
      extensions,
      lockHolder: (lock) => (lock === MODEL_LOCK ? this.tuner?.controller.tuning() : undefined),
      authorize: commandGate({
        config: config.trust,
        deviceId: this.deviceId,
        clock: this.clock,
        log: this.log,
        db: store.db,
      }),
    });
    try {
      await this.fleet.start(this.abort.signal);
    } catch (err) {
      if (!(err instanceof BrokerStartError || err instanceof ConfigError)) throw err;
      // Inference and HTTP go on; telemetry accumulates in the outbox; MQTT is retried with backoff.
      const fleet = this.fleet;
      this.fleet = undefined;
      retryFleet({
        fleet,
        error: err,
        config: config.mqtt,
        faults: this.faults,
        events: store.events,
        clock: this.clock,
        log: this.log,
        signal: this.abort.signal,
        started: () => {
          this.fleet = fleet;
        },
      });
    }
  }

  private info(): Record<string, unknown> {
    const config = this.configStore?.effective() ?? this.deps.config;
    return {
      deviceId: this.deviceId,
      version: agentVersion(),
      startedAt: new Date(this.startedAt).toISOString(),
      ...this.models.active(),
      powerMode: this.powerMode.current() ?? null,
      groups: config.mqtt.groups,
      decision: this.tuner?.controller.current() ? decisionSummary(this.tuner.controller.current()!) : null,
      config: redactSecrets(config),
      update: this.deployUpdate?.() ?? null,
    };
  }

  private async startHttp(pipeline: RunningPipeline, routes: RouteRegistrar[]): Promise<void> {
    const { config } = this.deps;
    this.http = new HttpServer({
      config: config.http,
      log: this.deps.log.child({ component: 'http' }),
      clock: this.clock,
      pipeline,
      routes,
      version: agentVersion(),
      deviceId: this.deviceId,
      getReadings: async () => {
        const s = this.sampler?.latest();
        if (!s) return undefined;
        return {
          temperaturesC: s.temperaturesC,
          ...(s.batteryPercent !== undefined ? { batteryPercent: s.batteryPercent } : {}),
          ...(s.powerSource !== 'unknown' ? { onBattery: s.powerSource === 'battery' } : {}),
          ...(s.powerW !== undefined ? { powerW: s.powerW } : {}),
          ...batteryReadings(this.battery?.status()),
        };
      },
      getTelemetry: () => this.telemetry?.latest(),
      faults: () => this.faults.list(),
      history: (field, fromMs, toMs) => this.store?.metrics.history(field, fromMs, toMs) ?? [],
    });
    await this.http.start();
  }
}
