import path from 'node:path';
import type { AgentConfig } from '../config/index.js';
import { errorMessage, ModelLoadError } from '../errors.js';
import type { ActiveModelInfo, ModelSwitcher, ModelTarget } from '../features/models.js';
import type { ExecutionProvider, SessionOptions } from '../inference/session.js';
import type { SessionHost } from '../inference/session-link.js';
import { WorkerModel } from '../inference/worker-model.js';
import type { Logger } from '../log.js';
import { Catalog, loadCatalog } from '../models/catalog.js';
import { normalisesInJavaScript } from '../pipeline/normalise.js';
import { isLean } from '../service/memory-env.js';
import { type FallbackResult, fallbackCandidates, loadWithFallback } from './degraded.js';
import { NO_MODEL_NAME } from './no-model.js';

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
 * catalog reloads after a derivation. Sessions run in another thread (onnxruntime-node's run
 * blocks the thread that calls it): the pipeline worker when `sessionHost` is set, else a worker
 * of their own.
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
  /** Set while no model at all could be loaded (the agent runs degraded, inference off). */
  unavailable: { error: string; sinceMs: number } | undefined;
  /** `models.dir` could not be listed at the last catalogue load (the catalogue is then empty). */
  private catalogError: string | undefined;
  /** First loads (retry, set-model, deploy) one at a time, so two never race to be the first. */
  private firstLoad: Promise<unknown> = Promise.resolve();
  private readonly firstModelListeners: Array<() => void> = [];
  /** The pipeline worker, which serves the sessions when the agent has one (one isolate less). */
  sessionHost: SessionHost | undefined;

  constructor(
    private readonly config: AgentConfig,
    private readonly log: Logger,
  ) {}

  /** Set by dispose() (the agent stopping): models that finish loading afterwards are released. */
  private disposed = false;

  get catalog(): Catalog {
    if (!this.catalogRef) throw new Error('the model catalog is not loaded yet');
    return this.catalogRef;
  }

  /** The model the pipeline runs (a swap may be finishing its last frame on the previous one). */
  get model(): WorkerModel | undefined {
    return this.current;
  }

  /**
   * Reads the catalogue again. A `models.dir` that cannot be listed (missing, unreadable) keeps the
   * catalogue read before (an empty one at start) and is remembered for the `model-unavailable`
   * fault, instead of an error: the agent keeps serving, and a later reload picks the folder up.
   */
  async reloadCatalog(): Promise<Catalog> {
    this.broken.length = 0;
    try {
      this.catalogRef = await loadCatalog({
        modelsDir: this.config.models.dir,
        dataDir: this.config.dataDir,
        log: this.log,
        onBrokenManifest: (file, err) => this.broken.push({ file, error: errorMessage(err) }),
      });
      this.catalogError = undefined;
    } catch (err) {
      const message = errorMessage(err);
      // Once per distinct error: the no-model retry reads the catalogue again and again.
      if (message !== this.catalogError) this.log.error({ err: message }, 'model catalogue unavailable');
      this.catalogError = message;
      // The catalogue read before stays (a folder briefly unreadable must not empty it); at start, none.
      const dataDir = this.config.dataDir;
      this.catalogRef ??= new Catalog(new Map(), dataDir ? path.join(dataDir, 'models') : undefined);
    }
    return this.catalogRef;
  }

  /**
   * The configured model (see loadConfigured); undefined when no model at all can be loaded, with
   * the reason in `unavailable`: the agent then starts without inference (src/agent/no-model.ts).
   */
  async loadInitial(): Promise<WorkerModel | undefined> {
    try {
      return await this.loadConfigured();
    } catch (err) {
      this.unavailable = { error: errorMessage(err), sinceMs: this.unavailable?.sinceMs ?? Date.now() };
      return undefined;
    }
  }

  /**
   * While no model is loaded: reads the catalogue again and loads the configured model (or a
   * fallback); the pipeline takes it and the first-model listeners run. Throws when none loads.
   */
  async loadFirst(): Promise<void> {
    await this.exclusive(async () => {
      if (this.current) return;
      await this.reloadCatalog();
      this.installFirst(await this.loadConfigured());
    });
  }

  /** Runs once a first model replaces none (to start the pipeline). */
  onFirstModel(listener: () => void): void {
    this.firstModelListeners.push(listener);
  }

  /**
   * The configured model; when it cannot be verified or loaded, another variant of it or another
   * model (see fallbackCandidates), recorded in `fallback` for the health fault and the event.
   */
  private async loadConfigured(): Promise<WorkerModel> {
    const catalog = this.catalogRef ?? (await this.reloadCatalog());
    if (this.catalogError) throw new ModelLoadError(this.catalogError);
    if (catalog.names().length === 0) {
      const broken = this.broken.length ? ` (${this.broken.length} skipped as unreadable)` : '';
      throw new ModelLoadError(
        `no model in ${this.config.models.dir}${broken}: install one there, or send set-model / deploy-model`,
      );
    }
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
          host: this.sessionHost,
        }),
      this.log,
    );
    this.fallback = result.failures.length > 0 ? result : undefined;
    this.current = result.model;
    this.noteLeanCost(this.current);
    return this.current;
  }

  private installFirst(model: WorkerModel): void {
    this.current = model;
    this.unavailable = undefined;
    this.log.info({ model: model.name, variant: model.variant.id }, 'a model is loaded: inference on');
    // The pipeline holds the stand-in, which never ran: swapping it out is immediate.
    void this.pipeline?.setModel(model);
    for (const listener of this.firstModelListeners) listener();
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.firstLoad.then(fn, fn);
    this.firstLoad = run.catch(() => undefined);
    return run;
  }

  /** From now on swaps go through the pipeline (which owns the model while it runs). */
  attach(pipeline: { setModel(next: WorkerModel): Promise<void> }): void {
    this.pipeline = pipeline;
  }

  active(): ActiveModelInfo | undefined {
    const m = this.model;
    return m ? { model: m.name, variant: m.variant.id, executionProvider: m.executionProvider } : undefined;
  }

  /**
   * The pipeline worker, which hosted the session, is gone and a new one (`host`) takes over
   * (RemotePipeline's recovery): the running model is loaded again with its session there — or,
   * when it no longer loads (its file changed or vanished), the next candidate as at start
   * (recorded in `fallback`). The model whose session was lost is disposed. A switch that landed
   * while this loaded wins: its model is kept and the one loaded here is released.
   */
  async reloadInto(host: SessionHost): Promise<WorkerModel> {
    this.sessionHost = host;
    const lost = this.current;
    if (!lost) throw new ModelLoadError('no model is loaded');
    const catalog = this.catalog;
    const result = await loadWithFallback(
      fallbackCandidates(catalog, { model: lost.name, variant: lost.variant.id }),
      (choice) => this.loadTarget(catalog, choice.model, choice.variant, { session: this.sessionNow }),
      this.log,
    );
    if (this.current !== lost) {
      await result.model.dispose();
      return this.current!;
    }
    if (result.failures.length > 0) this.fallback = result;
    this.current = result.model;
    void lost
      .dispose()
      .catch((err) => this.log.debug({ err: errorMessage(err) }, 'releasing the lost session failed'));
    return result.model;
  }

  /** Switches to another model/variant; a no-op answer when it is already active. */
  async switchTo(
    target: TunedTarget,
  ): Promise<{ changed: boolean; from: ActiveModelInfo; to: ActiveModelInfo }> {
    const previous = this.model;
    if (!previous) return this.switchFromNone(target);
    const from = this.active()!;
    const name = target.model ?? previous.name;
    // The manifest's default when no variant is named; unknown ids throw a clear error.
    const { variant } = this.catalog.variant(name, target.variant);
    const sameSession = JSON.stringify(target.session) === JSON.stringify(this.sessionNow);
    if (name === previous.name && variant.id === previous.variant.id && (!target.session || sameSession))
      return { changed: false, from, to: from };
    const next = await this.loadTarget(this.catalog, name, variant.id, target);
    this.sessionNow = target.session;
    this.current = next;
    this.fallback = undefined;
    if (this.pipeline) await this.pipeline.setModel(next);
    else await previous.dispose();
    this.noteLeanCost(next);
    return { changed: true, from, to: this.active()! };
  }

  /** On the lean runtime, says when the served variant's preparation runs per value in JavaScript. */
  private noteLeanCost(model: WorkerModel): void {
    if (!isLean() || !normalisesInJavaScript(model.input)) return;
    this.log.warn(
      {
        model: model.name,
        variant: model.variant.id,
        derive: `edge-agent derive ${model.name} --variant ${model.variant.id} --method input-uint8`,
      },
      'this variant normalises its input in JavaScript, which the lean runtime interprets (about twice the CPU per frame): serve its input-uint8 variant (the tuner derives and measures it when policy.derive is auto)',
    );
  }

  /**
   * Loads `variant` of `name` (default: the manifest's) with the agent's session options and the
   * target's EP/threads. One that finishes loading after dispose() (a switch under way when the
   * agent stops) is released at once and the switch fails: nothing would release it later.
   */
  private async loadTarget(
    catalog: Catalog,
    name: string,
    variant: string | undefined,
    target: TunedTarget,
  ): Promise<WorkerModel> {
    const ep = target.session?.executionProvider as ExecutionProvider | undefined;
    const model = await WorkerModel.load({
      catalog,
      model: name,
      variant,
      session: {
        ...agentSessionOptions(this.config),
        ...(target.session?.threads !== undefined ? { threads: target.session.threads } : {}),
        ...(ep ? { executionProviders: [ep] } : {}),
      },
      log: this.log,
      host: this.sessionHost,
    });
    if (this.disposed) {
      await model.dispose();
      throw new ModelLoadError('the agent is stopping: the model loaded meanwhile is released');
    }
    return model;
  }

  /** set-model / a deployed model while none is loaded: the catalogue read again, then that model. */
  private switchFromNone(
    target: TunedTarget,
  ): Promise<{ changed: boolean; from: ActiveModelInfo; to: ActiveModelInfo }> {
    return this.exclusive(async () => {
      if (this.current) return this.switchTo(target); // a retry loaded one meanwhile
      const catalog = await this.reloadCatalog();
      if (this.catalogError) throw new ModelLoadError(this.catalogError);
      const name = target.model ?? this.config.models.default;
      const { variant } = catalog.variant(name, target.variant); // unknown names: a clear error
      const next = await this.loadTarget(catalog, name, variant.id, target);
      this.sessionNow = target.session;
      this.fallback = undefined;
      this.installFirst(next);
      this.noteLeanCost(next);
      const none = { model: NO_MODEL_NAME, variant: NO_MODEL_NAME, executionProvider: undefined };
      return { changed: true, from: none, to: this.active()! };
    });
  }

  /** Releases the model in use; one still loading is released when it arrives (loadTarget). */
  async dispose(): Promise<void> {
    this.disposed = true;
    await this.model?.dispose();
  }
}
