import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createSource } from './camera/index.js';
import { type Clock, systemClock } from './clock.js';
import type { AgentConfig } from './config/index.js';
import { errorMessage } from './errors.js';
import { InferenceModel } from './inference/model.js';
import type { Logger } from './log.js';
import { loadCatalog } from './models/catalog.js';
import { packageRoot } from './paths.js';
import { type FrameResult, type PipelineCounters, runPipeline } from './pipeline/loop.js';
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
  private model: InferenceModel | undefined;
  private runId: number | undefined;
  private loop: Promise<PipelineCounters> | undefined;
  private stopping: Promise<void> | undefined;
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
    this.model = await InferenceModel.load({
      catalog,
      model: config.models.default,
      variant: config.models.variant,
      session: {
        threads: config.inference.threads,
        executionProviders: config.inference.executionProviders,
        graphOptimization: config.inference.graphOptimization,
      },
      log: this.log,
    });
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

    const source = createSource(config.camera.source, config.camera.fps, {
      signal: this.abort.signal,
      clock: this.clock,
      log: this.deps.log.child({ component: 'camera' }),
    });
    const pipelineLog = this.deps.log.child({ component: 'pipeline' });
    this.loop = runPipeline(
      { source, model: () => model, onResult: (r) => this.onResult(r, pipelineLog), log: pipelineLog },
      this.abort.signal,
    );
    this.loop.catch((err) => {
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

  /** Resolves when the pipeline ends on its own (source exhausted or failed) or after stop(). */
  async finished(): Promise<PipelineCounters | undefined> {
    return this.loop?.catch(() => undefined);
  }

  /** Stops the pipeline, releases the model and closes the database. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.abort.abort();
    const counters = await this.finished();
    if (this.model)
      await this.model
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
