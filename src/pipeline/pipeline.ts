import type { FrameSource } from '../camera/types.js';
import { type Clock, systemClock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { PipelineCore } from './core.js';
import { LagMonitor } from './leases.js';
import { describePacing, type Pacing } from './pacing.js';
import { TensorPreparer, targetFor } from './prepare.js';
import { STRATEGIES } from './strategies.js';
import type {
  FrameListener,
  FramePair,
  FrameResult,
  PipelineModel,
  PipelineStats,
  ResultListener,
  ResultStream,
} from './types.js';

export type {
  FrameListener,
  FramePair,
  FrameResult,
  PipelineModel,
  PipelineStats,
  PipelineTimings,
  ResultListener,
  ResultStream,
} from './types.js';

export interface PipelineDeps {
  source: FrameSource;
  model: PipelineModel;
  pacing: Pacing;
  /** Frames older than this are never inferred. */
  maxFrameAgeMs: number;
  /** Let the source scale frames for the model in its capture process (camera.scaleInCapture). */
  scaleInCapture?: boolean;
  log: Logger;
  clock?: Clock;
  /** Monotonic ms for stage timings (default `performance.now`); tests pass their fake clock's. */
  stopwatch?: () => number;
  /** Turns frames into tensors (default a `TensorPreparer` timed by `stopwatch`). */
  preparer?: TensorPreparer;
  /**
   * Frees a model output's memory once it is decoded (`BufferRelease`), and a capture frame's
   * (`Frame.ownsBuffer`) when the pipeline drops it without a result; only for a model whose
   * outputs are the pipeline's own (moved from a session), never a buffer the model reuses.
   */
  release?: (view: ArrayBufferView) => void;
}

/**
 * Camera → model → results, newest frame wins. A background reader keeps only the newest frame;
 * the worker prepares it, runs the model and decodes. The loop runs in one of four modes chosen
 * from the pacing and the source (core.ts `loopMode`, one strategy each in strategies.ts) over a
 * shared core. Swapping the model, the pacing or the duty cycle works while running.
 */
export class Pipeline implements ResultStream {
  private readonly core: PipelineCore;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly lag = new LagMonitor();
  private state: PipelineStats['state'] = 'idle';
  private abort = new AbortController();
  private done: Promise<void> | undefined;
  private lastPair: FramePair | undefined;

  constructor(private readonly deps: PipelineDeps) {
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log;
    const stopwatch = deps.stopwatch ?? (() => performance.now());
    this.core = new PipelineCore({
      source: deps.source,
      model: deps.model,
      pacing: deps.pacing,
      maxFrameAgeMs: deps.maxFrameAgeMs,
      log: deps.log,
      clock: this.clock,
      stopwatch,
      preparer: deps.preparer ?? new TensorPreparer(stopwatch),
      ...(deps.release ? { release: deps.release } : {}),
    });
    this.core.onResult((result, frame) => {
      this.lastPair = { result, frame };
    });
  }

  get model(): PipelineModel {
    return this.core.model;
  }

  get pacing(): Pacing {
    return this.core.pacing;
  }

  latest(): FrameResult | undefined {
    return this.core.latest;
  }

  /** Subscribes to results; a throwing listener is logged and never stops the others. */
  onResult(listener: ResultListener): () => void {
    return this.core.onResult(listener);
  }

  /** Subscribes to results with their frames (see `FrameListener`). */
  onFrame(listener: FrameListener): () => void {
    return this.core.onResult(listener);
  }

  /** A copy of the newest inferred frame with its result. */
  async latestFrame(): Promise<FramePair | undefined> {
    const pair = this.lastPair;
    if (!pair || pair.frame.data.byteLength === 0) return undefined;
    return { result: pair.result, frame: { ...pair.frame, data: pair.frame.data.slice() } };
  }

  /** A frame is being prepared or run. */
  get working(): boolean {
    return this.core.working;
  }

  /** Counters alone (cheaper than `stats()`, which sorts the latency windows). */
  counters(): PipelineStats['counters'] {
    return this.core.counters();
  }

  /** Starts capture and inference; resolves at once. `finished()` tells when it ends. */
  start(signal?: AbortSignal): void {
    if (this.done) throw new Error('pipeline already started');
    signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.state = 'running';
    this.applyTarget();
    this.lag.start();
    const slot = this.core.slot;
    this.done = this.work(this.abort.signal)
      .finally(() => this.cleanup())
      .then(
        () => {
          this.state = slot.error ? 'failed' : 'stopped';
          if (slot.error) throw slot.error;
        },
        (err) => {
          this.state = 'failed';
          this.core.lastError = errorMessage(err);
          throw err;
        },
      );
    this.done.catch(() => undefined);
  }

  /** Resolves when the source ends or after stop(); rejects when the source failed for good. */
  async finished(): Promise<PipelineStats> {
    await this.done;
    return this.stats();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.core.slot.interrupt();
    await this.done?.catch(() => undefined);
  }

  /**
   * Switches the model without stopping: the frame in flight finishes on the old model, which is
   * then disposed (after any `withModel` users are done with it).
   */
  async setModel(next: PipelineModel): Promise<void> {
    const old = this.core.model;
    if (old === next) return;
    this.core.model = next;
    this.applyTarget();
    this.log.info(
      { model: next.name, variant: next.variant.id, previous: `${old.name}/${old.variant.id}` },
      'model switched',
    );
    await this.core.leases.idle(old);
    await old
      .dispose()
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'releasing the old model failed'));
  }

  /**
   * Changes fps / duty cycle at run time; takes effect at once (a pending wait is cut short).
   * `quiet`: logged at debug (the tuner's measurement bursts pause and resume every few seconds).
   */
  setPacing(pacing: Pacing, options?: { quiet?: boolean }): void {
    this.core.pacing = pacing;
    this.log[options?.quiet ? 'debug' : 'info']({ pacing: describePacing(pacing) }, 'pacing changed');
    this.core.wake();
  }

  /** Runs `fn` with the current model, keeping it alive through a concurrent `setModel`. */
  async withModel<T>(fn: (model: PipelineModel) => Promise<T>): Promise<T> {
    const model = this.core.model;
    this.core.leases.take(model);
    try {
      return await fn(model);
    } finally {
      this.core.leases.give(model);
    }
  }

  stats(): PipelineStats {
    const now = this.clock.now();
    const m = this.core.model;
    const pacing = this.core.pacing;
    return {
      state: this.state,
      model: { name: m.name, variant: m.variant.id, task: m.task, executionProvider: m.executionProvider },
      pacing: { ...pacing, description: describePacing(pacing) },
      counters: this.core.counters(),
      fps: this.core.fps(now),
      captureFps: this.core.slot.rate.perSecond(now),
      latency: this.core.latency(),
      eventLoopLag: this.lag.snapshot(),
      preparePath: this.core.preparePath,
      camera: this.deps.source.status(),
      lastError: this.core.lastError,
    };
  }

  private applyTarget(): void {
    if (this.deps.scaleInCapture === false) {
      this.deps.source.setTarget(undefined);
      return;
    }
    const accepted = this.deps.source.setTarget(targetFor(this.core.model.input));
    this.log.debug({ accepted, source: this.deps.source.description }, 'capture-side scaling');
  }

  /** Runs the strategy of the current mode until the source ends; a pacing change switches strategy. */
  private async work(signal: AbortSignal): Promise<void> {
    const { core } = this;
    try {
      while (!signal.aborted) {
        const mode = core.mode;
        if (mode === 'shots') await core.slot.stopContinuous();
        else core.slot.startContinuous(signal);
        if ((await STRATEGIES[mode](core, signal)) === 'ended') break;
      }
    } finally {
      await core.dropAhead();
    }
  }

  private async cleanup(): Promise<void> {
    await this.core.slot
      .stopContinuous()
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'stopping capture failed'));
    this.lag.stop();
  }
}
