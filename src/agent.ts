import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createSource } from './camera/index.js';
import { type Clock, systemClock } from './clock.js';
import type { AgentConfig } from './config/index.js';
import { errorMessage } from './errors.js';
import { HttpServer } from './http/server.js';
import { WorkerModel } from './inference/worker-model.js';
import type { Logger } from './log.js';
import type { Catalog } from './models/catalog.js';
import { loadCatalog } from './models/catalog.js';
import { packageRoot } from './paths.js';
import { type Pacing, pacingSchema } from './pipeline/pacing.js';
import { type FrameResult, Pipeline, type PipelineStats } from './pipeline/pipeline.js';
import { type Db, openDatabase } from './store/database.js';

export interface AgentDeps {
  config: AgentConfig;
  log: Logger;
  clock?: Clock;
}

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
  private runId: number | undefined;
  private stopping: Promise<void> | undefined;
  private catalog: Catalog | undefined;
  /** Camera → model → results; other parts read stats and results from it, swap models on it. */
  pipeline: Pipeline | undefined;
  /** Local API, stream, /metrics and dashboard (absent when http.enabled is false). */
  http: HttpServer | undefined;
  latest: FrameResult | undefined;

  constructor(private readonly deps: AgentDeps) {
    this.log = deps.log.child({ component: 'agent' });
    this.clock = deps.clock ?? systemClock;
  }

  /** Starts everything; resolves once the pipeline is running. Abort `signal` (or call stop) to end. */
  async start(signal?: AbortSignal): Promise<void> {
    const { config } = this.deps;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    mkdirSync(config.dataDir, { recursive: true });
    this.db = openDatabase({ file: path.join(config.dataDir, 'edge-agent.db'), log: this.log });

    const catalog = await loadCatalog({
      modelsDir: config.models.dir,
      dataDir: config.dataDir,
      log: this.log,
    });
    this.catalog = catalog;
    // The session runs in a worker thread: onnxruntime-node's run blocks the thread it is called on.
    const model = await WorkerModel.load({
      catalog,
      model: config.models.default,
      variant: config.models.variant,
      session: {
        threads: config.inference.threads,
        executionProviders: config.inference.executionProviders,
        graphOptimization: config.inference.graphOptimization,
        // Idle intra-op threads would spin on cores that capture (ffmpeg) and the event loop need.
        allowSpinning: false,
      },
      log: this.log,
    });
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

    // --- camera + pipeline (camera part) ---
    const source = createSource(config.camera, {
      signal: this.abort.signal,
      clock: this.clock,
      log: this.deps.log.child({ component: 'camera' }),
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

    // --- local HTTP serving (camera part) ---
    if (config.http.enabled) {
      this.http = new HttpServer({
        config: config.http,
        log: this.deps.log.child({ component: 'http' }),
        clock: this.clock,
        pipeline,
        catalog: () => this.catalog ?? catalog,
        getDecision: () => configDecision(config, pipeline.stats()),
        version: agentVersion(),
        ...(config.deviceId ? { deviceId: config.deviceId } : {}),
      });
      try {
        await this.http.start();
      } catch (err) {
        this.pipeline = undefined;
        await model.dispose().catch(() => undefined);
        throw err;
      }
    }

    pipeline.start(this.abort.signal);
    pipeline.finished().catch((err) => {
      this.log.error({ err: errorMessage(err) }, 'pipeline stopped with an error');
    });
  }

  private onResult(result: FrameResult, log: Logger): void {
    this.latest = result;
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
    await this.http?.stop().catch((err) => this.log.warn({ err: errorMessage(err) }, 'http stop failed'));
    await this.pipeline?.stop();
    const stats = this.pipeline?.stats();
    const counters = stats ? { ...stats.counters } : undefined;
    if (this.pipeline)
      await this.pipeline.model
        .dispose()
        .catch((err) => this.log.warn({ err: errorMessage(err) }, 'model release failed'));
    if (this.db) {
      if (this.runId !== undefined) {
        this.db
          .prepare('UPDATE agent_runs SET stopped_at = ?, frames_processed = ? WHERE id = ?')
          .run(this.clock.now(), counters?.processed ?? 0, this.runId);
      }
      this.db.close();
    }
    this.log.info({ ...counters }, 'agent stopped');
  }
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
