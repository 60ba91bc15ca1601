import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createSource } from './camera/index.js';
// --- fleet/telemetry/store (issue 6) ---
import { redactSecrets } from './cli/config.js';
import { type Clock, systemClock } from './clock.js';
import type { AgentConfig } from './config/index.js';
import { ENV_OVERRIDES, loadConfig } from './config/index.js';
import { errorMessage } from './errors.js';
import { type ActiveModelInfo, type CommandDeps, catalogSummary } from './fleet/commands.js';
import { ConfigStore } from './fleet/config-patch.js';
import { resolveDeviceId } from './fleet/device-id.js';
import { BrokerStartError } from './fleet/embedded-broker.js';
import { FleetService } from './fleet/service.js';
import { deviceTopics } from './fleet/topics.js';
// --- camera/pipeline/http (issue 5) ---
import { type DeviceProfile, LiveSampler, readProfile } from './hardware/index.js';
import { HttpServer } from './http/server.js';
import { WorkerModel } from './inference/worker-model.js';
// --- end camera ---
import type { Logger } from './log.js';
import { loadCatalog } from './models/catalog.js';
import { packageRoot } from './paths.js';
import { type Pacing, pacingSchema } from './pipeline/pacing.js';
import { type FrameResult, Pipeline, type PipelineStats } from './pipeline/pipeline.js';
import type { Db } from './store/database.js';
import { Store } from './store/index.js';
import { TelemetryCollector } from './telemetry/collector.js';
import { TelemetryReporter } from './telemetry/reporter.js';
import { systemCpuReader } from './telemetry/sources.js';
// --- end fleet ---

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
 * Later parts (HTTP, MQTT, tuner) are added here and nowhere else.
 */
export class Agent {
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly abort = new AbortController();
  private db: Db | undefined;
  /** The active model (the pipeline's once it runs); its session lives in a worker thread. */
  private model: WorkerModel | undefined;
  private runId: number | undefined;
  private stopping: Promise<void> | undefined;
  latest: FrameResult | undefined;
  // --- camera/pipeline/http (issue 5) ---
  /** Camera → model → results; other parts read stats and results from it, swap models on it. */
  pipeline: Pipeline | undefined;
  /** Local API, stream, /metrics and dashboard (absent when http.enabled is false). */
  http: HttpServer | undefined;
  private profile: Promise<DeviceProfile> | undefined;
  /** Battery, power and temperatures for the dashboard and /metrics. */
  private sampler: LiveSampler | undefined;
  // --- end camera ---
  // --- fleet/telemetry/store (issue 6) ---
  readonly deviceId: string;
  private store: Store | undefined;
  private telemetry: TelemetryReporter | undefined;
  private collector: TelemetryCollector | undefined;
  fleet: FleetService | undefined;
  private configStore: ConfigStore | undefined;
  private catalogRef: Awaited<ReturnType<typeof loadCatalog>> | undefined;
  private startedAt = 0;
  /** Set when a `restart` command asked for a restart; the CLI exits with RESTART_EXIT_CODE. */
  restartRequested: string | undefined;
  // --- end fleet ---

  constructor(private readonly deps: AgentDeps) {
    this.log = deps.log.child({ component: 'agent' });
    this.clock = deps.clock ?? systemClock;
    this.deviceId = resolveDeviceId(deps.config.deviceId);
  }

  /** Starts everything; resolves once the pipeline is running. Abort `signal` (or call stop) to end. */
  async start(signal?: AbortSignal): Promise<void> {
    const { config } = this.deps;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    mkdirSync(config.dataDir, { recursive: true });
    // --- fleet/telemetry/store (issue 6): the store (outbox, metrics, audit) ---
    this.startedAt = this.clock.now();
    const topics = deviceTopics(config.mqtt.prefix, this.deviceId);
    this.store = new Store({
      file: path.join(config.dataDir, 'edge-agent.db'),
      config: config.store,
      clock: this.clock,
      log: this.deps.log,
      eventsTopic: topics.events,
    });
    this.store.start(this.abort.signal);
    this.db = this.store.db;
    // --- end fleet ---

    const catalog = await loadCatalog({
      modelsDir: config.models.dir,
      dataDir: config.dataDir,
      log: this.log,
    });
    // The session runs in a worker thread: onnxruntime-node's run blocks the thread it is called on.
    this.model = await WorkerModel.load({
      catalog,
      model: config.models.default,
      variant: config.models.variant,
      session: sessionOptions(config),
      log: this.log,
    });
    this.catalogRef = catalog;
    const model = this.model;
    this.runId = Number(
      this.db
        .prepare('INSERT INTO agent_runs (started_at, version, model, variant) VALUES (?, ?, ?, ?)')
        .run(this.clock.now(), agentVersion(), model.name, model.variant.id).lastInsertRowid,
    );
    this.log.info(
      {
        model: model.name,
        variant: model.variant.id,
        executionProvider: model.executionProvider,
        source: config.camera.source,
        fps: config.camera.fps,
        dataDir: config.dataDir,
      },
      'agent started',
    );

    // --- fleet/telemetry/store (issue 6): telemetry and MQTT ---
    await this.startFleet(topics.telemetry);
    // --- end fleet ---

    // --- camera + pipeline + local HTTP (issue 5) ---
    const source = createSource(config.camera, {
      signal: this.abort.signal,
      clock: this.clock,
      log: this.deps.log.child({ component: 'camera' }),
    });
    // Camera lost and back as events (MQTT events topic, through the outbox).
    source.onStateChange((change) => {
      const data = { source: source.description, from: change.previous, reason: change.reason };
      if (change.state === 'offline') this.store?.events.emit('camera-lost', data, 'warning');
      else if (
        change.state === 'online' &&
        (change.previous === 'offline' || change.previous === 'stalled')
      ) {
        this.store?.events.emit('camera-back', data);
      }
    });
    const pipelineLog = this.deps.log.child({ component: 'pipeline' });
    const pipeline = new Pipeline({
      source,
      model,
      pacing: pacingFromConfig(config.pipeline),
      maxFrameAgeMs: config.pipeline.maxFrameAgeMs,
      scaleInCapture: config.camera.scaleInCapture,
      log: pipelineLog,
      clock: this.clock,
    });
    this.pipeline = pipeline;
    pipeline.onResult((r) => this.onResult(r, pipelineLog));
    if (config.http.enabled) {
      this.sampler = new LiveSampler({
        root: config.hardware.root,
        clock: this.clock,
        log: this.deps.log.child({ component: 'hardware' }),
        options: config.hardware.sampler,
      });
      await this.sampler.start(this.abort.signal);
      const sampler = this.sampler;
      this.http = new HttpServer({
        config: config.http,
        log: this.deps.log.child({ component: 'http' }),
        clock: this.clock,
        pipeline,
        catalog: () => catalog,
        getDecision: () => {
          // The tuner's latest recorded decision when there is one, else the configured choice.
          const recorded = this.store?.decisions.latest();
          return recorded ? { ...recorded, source: 'tuner' } : configDecision(config, pipeline.stats());
        },
        version: agentVersion(),
        deviceId: this.deviceId,
        getReadings: async () => {
          const s = sampler.latest();
          if (!s) return undefined;
          return {
            temperaturesC: s.temperaturesC,
            ...(s.batteryPercent !== undefined ? { batteryPercent: s.batteryPercent } : {}),
            ...(s.powerSource !== 'unknown' ? { onBattery: s.powerSource === 'battery' } : {}),
            ...(s.powerW !== undefined ? { powerW: s.powerW } : {}),
          };
        },
        // Read on first request (it probes the execution providers), then kept.
        getProfile: () => {
          this.profile ??= readProfile({
            root: config.hardware.root,
            dataDir: config.dataDir,
            log: this.log,
          });
          return this.profile;
        },
      });
      await this.http.start();
    }
    pipeline.start(this.abort.signal);
    pipeline.finished().catch((err) => {
      this.log.error({ err: errorMessage(err) }, 'pipeline stopped with an error');
    });
    // --- end camera ---
  }

  private onResult(result: FrameResult, log: Logger): void {
    this.latest = result;
    // --- fleet/telemetry/store (issue 6) ---
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
    // --- end fleet ---
    const summary =
      result.task === 'detection'
        ? (result.detections ?? []).map((d) => `${d.label} ${d.score.toFixed(2)}`)
        : (result.classes ?? []).slice(0, 3).map((c) => `${c.label} ${c.score.toFixed(2)}`);
    log.info(
      { seq: result.seq, frame: result.origin, timings: result.timings, results: summary },
      'inference',
    );
  }

  /**
   * Resolves when the pipeline ends on its own (source exhausted) or after stop(); rejects when
   * the camera failed for good (a capture tool missing), so `edge-agent run` exits non-zero.
   */
  async finished(): Promise<PipelineStats | undefined> {
    return this.pipeline?.finished();
  }

  /** Stops the pipeline, releases the model and closes the database. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.abort.abort();
    // --- camera/pipeline/http (issue 5) ---
    await this.http?.stop().catch((err) => this.log.warn({ err: errorMessage(err) }, 'http stop failed'));
    await this.pipeline?.stop();
    await this.sampler
      ?.stop()
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'sampler stop failed'));
    const stats = this.pipeline?.stats();
    const counters = stats ? { ...stats.counters } : undefined;
    // --- end camera ---
    // --- fleet/telemetry/store (issue 6) ---
    await this.telemetry?.stop();
    await this.fleet?.stop().catch((err) => this.log.warn({ err: errorMessage(err) }, 'mqtt stop failed'));
    // --- end fleet ---
    const model = this.pipeline?.model ?? this.model;
    if (model)
      await model.dispose().catch((err) => this.log.warn({ err: errorMessage(err) }, 'model release failed'));
    if (this.db) {
      if (this.runId !== undefined) {
        this.db
          .prepare('UPDATE agent_runs SET stopped_at = ?, frames_processed = ? WHERE id = ?')
          .run(this.clock.now(), counters?.processed ?? 0, this.runId);
      }
      await this.store?.stop();
    }
    this.log.info({ ...counters }, 'agent stopped');
  }

  // --- fleet/telemetry/store (issue 6) ---------------------------------------------------------

  /** The latest telemetry record (for `/metrics`: `toPrometheus(agent.latestTelemetry())`). */
  latestTelemetry() {
    return this.telemetry?.latest();
  }

  private activeModel(): ActiveModelInfo | undefined {
    const m = this.pipeline?.model ?? this.model;
    return m ? { model: m.name, variant: m.variant.id, executionProvider: m.executionProvider } : undefined;
  }

  private async startFleet(telemetryTopic: string): Promise<void> {
    const { config } = this.deps;
    const store = this.store!;
    this.collector = new TelemetryCollector({
      deviceId: this.deviceId,
      clock: this.clock,
      cpu: systemCpuReader(),
      sources: {
        active: () => this.activeModel(),
        outbox: () => {
          const s = store.outbox.stats();
          return { pending: s.pending, droppedTotal: s.droppedTotal };
        },
      },
    });
    this.telemetry = new TelemetryReporter({
      collector: this.collector,
      metrics: store.metrics,
      outbox: store.outbox,
      topic: telemetryTopic,
      clock: this.clock,
      log: this.deps.log.child({ component: 'telemetry' }),
      intervalS: config.telemetry.intervalS,
    });
    this.telemetry.start(this.abort.signal);

    const env = this.deps.env ?? process.env;
    this.configStore = new ConfigStore({
      file: this.deps.configFile,
      load: () => (this.deps.configFile ? loadConfig({ file: this.deps.configFile, env }).config : config),
      envKeys: ENV_OVERRIDES.filter((o) => env[o.env]).map((o) => o.path.join('.')),
      live: [
        { prefix: 'telemetry.intervalS', apply: (c) => this.telemetry?.setIntervalS(c.telemetry.intervalS) },
        { prefix: 'mqtt.results', apply: (c) => this.fleet?.configureResults(c.mqtt.results) },
        {
          prefix: 'models',
          apply: async (c) => {
            await this.switchModel({ model: c.models.default, variant: c.models.variant });
          },
        },
      ],
    });
    this.configStore.setEffective(config);
    this.fleet = new FleetService({
      config: config.mqtt,
      deviceId: this.deviceId,
      version: agentVersion(),
      clock: this.clock,
      log: this.deps.log,
      outbox: store.outbox,
      audit: store.audit,
      events: store.events,
      commands: this.commandDeps(),
      info: () => this.info(),
    });
    try {
      await this.fleet.start(this.abort.signal);
    } catch (err) {
      if (!(err instanceof BrokerStartError)) throw err;
      // Inference goes on without MQTT; telemetry keeps accumulating in the outbox.
      this.log.error({ err: err.message }, 'MQTT disabled for this run');
      store.events.emit('mqtt-unavailable', { error: err.message }, 'error');
      this.fleet = undefined;
    }
  }

  private info(): Record<string, unknown> {
    const config = this.configStore?.effective() ?? this.deps.config;
    return {
      deviceId: this.deviceId,
      version: agentVersion(),
      startedAt: new Date(this.startedAt).toISOString(),
      ...this.activeModel(),
      groups: config.mqtt.groups,
      decision: this.store?.decisions.latest() ?? null,
      config: redactSecrets(config),
    };
  }

  private commandDeps(): CommandDeps {
    return {
      status: () => ({
        deviceId: this.deviceId,
        version: agentVersion(),
        uptimeS: Math.round((this.clock.now() - this.startedAt) / 1000),
        active: this.activeModel(),
        lastResultAt: this.latest ? new Date(this.latest.capturedAtMs).toISOString() : null,
        telemetry: this.telemetry?.latest() ?? null,
        outbox: this.store?.outbox.stats(),
        mqtt: this.fleet?.status(),
      }),
      config: {
        get: () => this.configStore!.effective(),
        set: async (patch) => {
          const result = await this.configStore!.set(patch);
          await this.fleet?.publishInfo();
          return result;
        },
      },
      models: {
        list: () => (this.catalogRef ? catalogSummary(this.catalogRef) : []),
        active: () => this.activeModel(),
        set: (target) => this.switchModel(target),
      },
      restart: (reason) => {
        this.restartRequested = reason;
        this.log.warn({ reason }, 'restart requested');
        void this.stop();
      },
    };
  }

  /**
   * Loads and verifies the new variant first (the running one keeps serving meanwhile), swaps it
   * in for the next frame, and releases the old session once a frame ran on the new one.
   */
  private async switchModel(target: {
    model?: string | undefined;
    variant?: string | undefined;
  }): Promise<ActiveModelInfo & { previous?: ActiveModelInfo }> {
    const { config } = this.deps;
    const previous = this.model;
    if (!previous || !this.catalogRef) throw new Error('the pipeline is not running');
    const modelName = target.model ?? previous.name;
    if (
      modelName === previous.name &&
      (target.variant ?? previous.entry.manifest.defaultVariant) === previous.variant.id
    ) {
      return { ...this.activeModel()!, previous: this.activeModel()! };
    }
    const next = await WorkerModel.load({
      catalog: this.catalogRef,
      model: modelName,
      variant: target.variant,
      session: sessionOptions(config),
      log: this.log,
    });
    const before = this.activeModel()!;
    this.model = next;
    // The frame in flight finishes on the old model, which is released once nothing uses it.
    if (this.pipeline) await this.pipeline.setModel(next);
    else await previous.dispose();
    const after = this.activeModel()!;
    this.store?.events.emit('model-switched', { from: before, to: after });
    await this.fleet
      ?.publishInfo()
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'info not republished'));
    return { ...after, previous: before };
  }
  // --- end fleet ---
}

// --- camera/pipeline (issue 5) ---
/** Session options of the agent's models (the first one and every switch). */
function sessionOptions(config: AgentConfig) {
  return {
    threads: config.inference.threads,
    executionProviders: config.inference.executionProviders,
    graphOptimization: config.inference.graphOptimization,
    // Idle intra-op threads would spin on cores that capture (ffmpeg) and the event loop need.
    allowSpinning: false,
  };
}

/** The pipeline pacing the config asks for. */
export function pacingFromConfig(p: AgentConfig['pipeline']): Pacing {
  return pacingSchema.parse(
    p.mode === 'continuous'
      ? { mode: 'continuous', ...(p.fps ? { fps: p.fps } : {}) }
      : {
          mode: 'duty-cycle',
          intervalS: p.intervalS,
          releaseCamera: p.releaseCamera,
          warmupFrames: p.warmupFrames,
        },
  );
}

/** Why the active variant is active, until the tuner records measured decisions. */
export function configDecision(config: AgentConfig, stats: PipelineStats) {
  return {
    model: stats.model.name,
    variant: stats.model.variant,
    source: 'config',
    reason: config.models.variant
      ? `configured: models.default = ${config.models.default}, models.variant = ${config.models.variant}`
      : `configured: models.default = ${config.models.default}, the manifest's default variant`,
    executionProvider: stats.model.executionProvider,
  };
}
// --- end camera ---
