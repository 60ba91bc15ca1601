import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { configDecision } from './agent/decision.js';
import { agentFeatures } from './agent/features.js';
import { forwardSamplerEvents, PowerModeTracker } from './agent/hardware.js';
import {
  type AgentParts,
  agentInfo,
  cameraEvents,
  createHttp,
  resultReporter,
  startFleet,
  startTelemetry,
} from './agent/links.js';
import { ModelHost } from './agent/model-host.js';
import { runWithoutModel, startPipeline } from './agent/model-retry.js';
import { noModel } from './agent/no-model.js';
import { watchDegradation, wireDiskGuard } from './agent/resilience.js';
import { runStopSteps } from './agent/stop-steps.js';
import { type Clock, systemClock } from './clock.js';
import { resolveDeviceId } from './config/device-id.js';
import type { AgentConfig } from './config/index.js';
import { redactUrl } from './config/redact.js';
import type { ConfigStore } from './config/store.js';
import { EdgeAgentError, errorMessage } from './errors.js';
import {
  commandTable,
  type Feature,
  routeRegistrars,
  startFeatures,
  stopFeatures,
} from './features/feature.js';
import type { FleetService } from './fleet/service.js';
import { deviceTopics } from './fleet/topics.js';
import {
  type DeviceProfile,
  type ExecutionProvidersInfo,
  LiveSampler,
  probeExecutionProviders,
  readProfile,
} from './hardware/index.js';
import { HealthFaults } from './health/faults.js';
import type { HttpServer } from './http/server.js';
import type { Logger } from './log.js';
import { packageRoot } from './paths.js';
import { pacingFromConfig } from './pipeline/config.js';
import { createAgentPipeline, type PreparedPipeline, prepareAgentPipeline } from './pipeline/create.js';
import type { ToWorker } from './pipeline/remote/protocol.js';
import type { FrameResult, PipelineModel, PipelineStats, RunningPipeline } from './pipeline/types.js';
import type { HeapKeeperOptions } from './service/heap-keeper.js';
import type { DiskGuard } from './store/disk-guard.js';
import { Store } from './store/index.js';
import type { TelemetryCollector } from './telemetry/collector.js';
import type { TelemetryReporter } from './telemetry/reporter.js';
import { type AgentTuner, createAgentTuner } from './tuner/agent-tuner.js';
import { createAgentBattery } from './tuner/battery/agent-battery.js';
import type { BatteryReplanner } from './tuner/battery/replanner.js';
import { decisionJson } from './tuner/report.js';

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  clock?: Clock;
  /** The config file the agent was started with (set-config persists to it). */
  configFile?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  /** The pipeline worker's heap keeper (`edge-agent run`: EDGE_AGENT_HEAP_HEADROOM_MB); none: V8's own schedule. */
  heapKeeper?: HeapKeeperOptions | undefined;
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
  /** The execution-provider probe in the pipeline worker (RemotePipeline), where onnxruntime is loaded. */
  private probeInPipeline: (() => Promise<ExecutionProvidersInfo | undefined>) | undefined;
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
    // ...and hosts the model's session (docs/memory.md: two isolates, not three).
    this.models.sessionHost = preparedPipeline?.sessionHost;
    // No loadable model at all: start degraded around a stand-in, inference off (agent/no-model.ts).
    const loaded = await this.models.loadInitial();
    if (await this.stoppedDuringStart(preparedPipeline)) return;
    const model = loaded ?? noModel(() => this.models.unavailable?.error ?? 'none loaded yet');
    watchDegradation({
      faults: this.faults,
      events: store.events,
      models: this.models,
      camera: () => this.pipeline?.stats().camera,
      pipeline: () => this.pipeline?.stats(),
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
    if (await this.stoppedDuringStart(preparedPipeline)) return;
    const parts = this.parts(store);
    ({ collector: this.collector, reporter: this.telemetry } = startTelemetry(parts, topics.telemetry));
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
    // stop() has stopped the pipeline built above: it must not start now.
    if (this.abort.signal.aborted) return;
    // Cold start: the camera (whose capture process takes the longest to deliver) starts first,
    // the MQTT link and the HTTP server start side by side (docs/memory.md, cold start).
    const start = () => {
      startPipeline(pipeline, this.abort.signal, this.log, (error) =>
        store.events.emit('pipeline-failed', { error: redactUrl(error) }, 'error'),
      );
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
    if (config.http.enabled)
      this.http = createHttp(parts, {
        pipeline,
        routes: routeRegistrars(this.features),
        telemetry: () => this.telemetry,
      });
    await Promise.all([
      startFleet(parts, {
        commands: commandTable(this.features),
        extensions: built.extensions,
        info: () =>
          agentInfo(parts, {
            configStore: this.configStore,
            startedAt: this.startedAt,
            update: this.deployUpdate?.(),
          }),
        attach: (fleet) => {
          this.fleet = fleet;
        },
      }),
      this.http?.start(),
    ]);
  }

  /**
   * Whether stop() came while start() waited (a SIGTERM while the model loads): the store is closed
   * and nothing more may start. The model loaded meanwhile, which stop() did not see, is released,
   * and the pipeline worker that hosts it is told to end with it (never terminated: protocol.ts).
   */
  private async stoppedDuringStart(prepared: PreparedPipeline): Promise<boolean> {
    if (!this.abort.signal.aborted) return false;
    await this.stopping;
    await this.models
      .dispose()
      .catch((err) => this.log.debug({ err: errorMessage(err) }, 'releasing the model failed'));
    prepared?.worker.postMessage({ type: 'close' } satisfies ToWorker);
    this.log.info('stopped while starting');
    return true;
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
      heapKeeper: this.deps.heapKeeper,
      // A crashed worker or a failed source: a new worker, the model loaded into it (docs/camera.md).
      recovery: {
        reload: (host) => this.models.reloadInto(host),
        onFailure: ({ error, attempt, restartInMs }) =>
          store.events.emit('pipeline-failed', { error: redactUrl(error), attempt, restartInMs }, 'error'),
        onRestart: ({ attempt, downMs, model: m }) =>
          store.events.emit(
            'pipeline-restarted',
            { attempt, downMs, model: m.name, variant: m.variant.id },
            'warning',
          ),
      },
    });
    source.onStateChange(cameraEvents(source, store.events));
    this.pipeline = pipeline;
    this.probeInPipeline = pipeline.probeExecutionProviders?.bind(pipeline);
    this.models.attach(pipeline);
    const report = resultReporter({
      fleet: () => this.fleet,
      stats: () => this.pipeline?.stats(),
      clock: this.clock,
      log: pipelineLog,
    });
    pipeline.onResult((r) => this.onResult(r, report));
    return pipeline;
  }

  private onResult(result: FrameResult, report: (r: FrameResult) => void): void {
    this.latest = result;
    this.collector?.observeFrame({ seq: result.seq, timings: { ...result.timings } });
    report(result);
  }

  /**
   * Resolves when the pipeline ends on its own (source exhausted) or after stop(). A pipeline in a
   * worker that fails is restarted (its `pipeline` fault says so meanwhile); one run on this thread
   * (an injected clock) rejects when its source failed for good.
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
    // Read once, on first use (it probes the execution providers), then kept. The probe runs in the
    // pipeline worker, which has onnxruntime loaded: this thread never loads it (docs/hardware.md).
    const log = this.log;
    const inPipeline = this.probeInPipeline;
    this.profile ??= readProfile({
      root: this.deps.config.hardware.root,
      dataDir: this.deps.config.dataDir,
      log,
      probeExecutionProviders: async () => {
        const info = await inPipeline?.();
        if (info) return info;
        // Not answered because the agent is stopping (the worker ended): no onnxruntime loaded
        // into this thread on the way out.
        if (this.abort.signal.aborted)
          throw new EdgeAgentError('the agent is stopping: providers not probed');
        return probeExecutionProviders({ log: log.child({ component: 'hardware' }) });
      },
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

  /** What the outward links (agent/links.ts) read from the running agent. */
  private parts(store: Store): AgentParts {
    return {
      config: this.deps.config,
      deviceId: this.deviceId,
      version: agentVersion(),
      clock: this.clock,
      log: this.deps.log,
      agentLog: this.log,
      store,
      faults: this.faults,
      models: this.models,
      powerMode: () => this.powerMode.current(),
      sampler: () => this.sampler,
      pipeline: () => this.pipeline,
      tuner: () => this.tuner,
      battery: () => this.battery,
      disk: () => this.disk,
      signal: this.abort.signal,
    };
  }
}
