import type { AgentConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { ActiveModelInfo, ModelSwitcher, ModelTarget } from '../features/models.js';
import type { ExecutionProvider, SessionOptions } from '../inference/session.js';
import { WorkerModel } from '../inference/worker-model.js';
import type { Logger } from '../log.js';
import { type Catalog, loadCatalog } from '../models/catalog.js';
import { type FallbackResult, fallbackCandidates, loadWithFallback } from './degraded.js';

/** Session options of the agent's models (the first one and every switch). */
export function agentSessionOptions(config: AgentConfig): SessionOptions {
  return {
    threads: config.inference.threads,
    executionProviders: config.inference.executionProviders,
    graphOptimization: config.inference.graphOptimization,
    // Idle intra-op threads would spin on cores that capture (ffmpeg) and the event loop need.
    allowSpinning: false,
  };
}

/** A switch target; the tuner also names the session options it chose (threads, provider). */
export type TunedTarget = ModelTarget & {
  session?: { threads?: number; executionProvider?: string } | undefined;
};

/**
 * Owns the catalog and the active model: the first load, hot swaps (the new variant is loaded and
 * verified while the old one keeps serving; the frame in flight finishes on the old one), and
 * catalog reloads after a derivation. Sessions run in a worker thread: onnxruntime-node's run
 * blocks the thread that calls it.
 */
export class ModelHost implements ModelSwitcher {
  private current: WorkerModel | undefined;
  private catalogRef: Catalog | undefined;
  private pipeline: { setModel(next: WorkerModel): Promise<void> } | undefined;
  private sessionNow: { threads?: number; executionProvider?: string } | undefined;
  /** Set while a fallback runs instead of the configured model (cleared by a later switch). */
  fallback: FallbackResult<WorkerModel> | undefined;
  /** Bundled models whose manifest could not be read (skipped, so the others still load). */
  readonly broken: Array<{ file: string; error: string }> = [];

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {}

  get catalog(): Catalog {
    if (!this.catalogRef) throw new Error('the model catalog is not loaded yet');
    return this.catalogRef;
  }

  /** The model the pipeline runs (a swap may be finishing its last frame on the previous one). */
  get model(): WorkerModel | undefined {
    return this.current;
  }

  async reloadCatalog(): Promise<Catalog> {
    this.broken.length = 0;
    this.catalogRef = await loadCatalog({
      modelsDir: this.config.models.dir,
      dataDir: this.config.dataDir,
      log: this.log,
      onBrokenManifest: (file, err) => this.broken.push({ file, error: errorMessage(err) }),
    });
    return this.catalogRef;
  }

  /**
   * The configured model; when it cannot be verified or loaded, another variant of it or another
   * model (see fallbackCandidates), recorded in `fallback` for the health fault and the event.
   */
  async loadInitial(): Promise<WorkerModel> {
    const catalog = this.catalogRef ?? (await this.reloadCatalog());
    const wanted = { model: this.config.models.default, variant: this.config.models.variant };
    const result = await loadWithFallback(
      fallbackCandidates(catalog, wanted),
      (choice) =>
        WorkerModel.load({
          catalog,
          model: choice.model,
          variant: choice.variant,
          session: agentSessionOptions(this.config),
          log: this.log,
        }),
      this.log,
    );
    this.fallback = result.failures.length > 0 ? result : undefined;
    this.current = result.model;
    return this.current;
  }

  /** From now on swaps go through the pipeline (which owns the model while it runs). */
  attach(pipeline: { setModel(next: WorkerModel): Promise<void> }): void {
    this.pipeline = pipeline;
  }

  active(): ActiveModelInfo | undefined {
    const m = this.model;
    return m ? { model: m.name, variant: m.variant.id, executionProvider: m.executionProvider } : undefined;
  }

  /** Switches to another model/variant; a no-op answer when it is already active. */
  async switchTo(
    target: TunedTarget,
  ): Promise<{ changed: boolean; from: ActiveModelInfo; to: ActiveModelInfo }> {
    const previous = this.model;
    if (!previous) throw new Error('no model is loaded yet');
    const from = this.active()!;
    const name = target.model ?? previous.name;
    // The manifest's default when no variant is named; unknown ids throw a clear error.
    const { variant } = this.catalog.variant(name, target.variant);
    const sameSession = JSON.stringify(target.session) === JSON.stringify(this.sessionNow);
    if (name === previous.name && variant.id === previous.variant.id && (!target.session || sameSession))
      return { changed: false, from, to: from };
    const base = agentSessionOptions(this.config);
    const ep = target.session?.executionProvider as ExecutionProvider | undefined;
    const next = await WorkerModel.load({
      catalog: this.catalog,
      model: name,
      variant: variant.id,
      session: {
        ...base,
        ...(target.session?.threads !== undefined ? { threads: target.session.threads } : {}),
        ...(ep ? { executionProviders: [ep] } : {}),
      },
      log: this.log,
    });
    this.sessionNow = target.session;
    this.current = next;
    this.fallback = undefined;
    if (this.pipeline) await this.pipeline.setModel(next);
    else await previous.dispose();
    return { changed: true, from, to: this.active()! };
  }

  async dispose(): Promise<void> {
    await this.model?.dispose();
  }
}
