import { linkSignals } from '../camera/signals.js';
import type { Frame, FrameSource } from '../camera/types.js';
import { type Clock, isAbortError, systemClock } from '../clock.js';
import { errorMessage } from '../errors.js';
import { postprocess } from '../inference/postprocess.js';
import type { Logger } from '../log.js';
import { FrameSlot, type Take } from './capture.js';
import { LagMonitor, Leases } from './leases.js';
import { describePacing, nextDueMs, overlapsPreparation, type Pacing, releasesCamera } from './pacing.js';
import { type PreparedInput, type PreparePath, specKey, TensorPreparer, targetFor } from './prepare.js';
import { RateMeter, SampleWindow } from './stats.js';
import type { FrameResult, PipelineModel, PipelineStats, PipelineTimings, ResultListener } from './types.js';

export type { FrameResult, PipelineModel, PipelineStats, PipelineTimings, ResultListener } from './types.js';

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
}

/**
 * Camera → model → results, newest frame wins. A background reader keeps only the newest frame;
 * the worker prepares it, runs the model and decodes. While onnxruntime runs (off the event loop),
 * the next frame is already taken and prepared. Swapping the model, the pacing or the duty cycle
 * works while running.
 */
export class Pipeline {
  private current: PipelineModel;
  private pacingNow: Pacing;
  private readonly slot: FrameSlot;
  private readonly preparer = new TensorPreparer();
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly listeners = new Set<ResultListener>();
  private readonly leases = new Leases<PipelineModel>();
  private readonly windows = {
    captureAgeMs: new SampleWindow(),
    preprocessMs: new SampleWindow(),
    inferenceMs: new SampleWindow(),
    postprocessMs: new SampleWindow(),
    totalMs: new SampleWindow(),
  };
  private readonly processedRate = new RateMeter();
  private processed = 0;
  private failed = 0;
  private state: PipelineStats['state'] = 'idle';
  private lastError: string | undefined;
  private lastPath: PreparePath | undefined;
  private lastStartMs: number | undefined;
  private latestResult: FrameResult | undefined;
  private wakeUp = new AbortController();
  private abort = new AbortController();
  private done: Promise<void> | undefined;
  private readonly lag = new LagMonitor();
  private lastRunEndPerf = 0;
  private cheap = true;
  private cheapCheckedAt = 0;

  constructor(private readonly deps: PipelineDeps) {
    this.current = deps.model;
    this.pacingNow = deps.pacing;
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log;
    this.slot = new FrameSlot(deps.source, this.clock, deps.log);
  }

  get model(): PipelineModel {
    return this.current;
  }

  get pacing(): Pacing {
    return this.pacingNow;
  }

  latest(): FrameResult | undefined {
    return this.latestResult;
  }

  /** Subscribes to results; a throwing listener is logged and never stops the others. */
  onResult(listener: ResultListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts capture and inference; resolves at once. `finished()` tells when it ends. */
  start(signal?: AbortSignal): void {
    if (this.done) throw new Error('pipeline already started');
    signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.state = 'running';
    this.applyTarget();
    this.lag.start();
    this.done = this.work(this.abort.signal)
      .finally(() => this.cleanup())
      .then(
        () => {
          this.state = this.slot.error ? 'failed' : 'stopped';
          if (this.slot.error) throw this.slot.error;
        },
        (err) => {
          this.state = 'failed';
          this.lastError = errorMessage(err);
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
    this.slot.interrupt();
    await this.done?.catch(() => undefined);
  }

  /**
   * Switches the model without stopping: the frame in flight finishes on the old model, which is
   * then disposed (after any `withModel` users are done with it).
   */
  async setModel(next: PipelineModel): Promise<void> {
    const old = this.current;
    if (old === next) return;
    this.current = next;
    this.applyTarget();
    this.log.info(
      { model: next.name, variant: next.variant.id, previous: `${old.name}/${old.variant.id}` },
      'model switched',
    );
    await this.leases.idle(old);
    await old
      .dispose()
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'releasing the old model failed'));
  }

  /** Changes fps / duty cycle at run time; takes effect at once (a pending wait is cut short). */
  setPacing(pacing: Pacing): void {
    this.pacingNow = pacing;
    this.log.info({ pacing: describePacing(pacing) }, 'pacing changed');
    this.wakeUp.abort();
    this.wakeUp = new AbortController();
    this.slot.interrupt();
  }

  /** Runs `fn` with the current model, keeping it alive through a concurrent `setModel`. */
  async withModel<T>(fn: (model: PipelineModel) => Promise<T>): Promise<T> {
    const model = this.current;
    this.leases.take(model);
    try {
      return await fn(model);
    } finally {
      this.leases.give(model);
    }
  }

  stats(): PipelineStats {
    const now = this.clock.now();
    const c = this.slot.counters;
    const m = this.current;
    const latency = Object.fromEntries(
      Object.entries(this.windows).map(([k, w]) => [k, w.summary()]),
    ) as PipelineStats['latency'];
    return {
      state: this.state,
      model: { name: m.name, variant: m.variant.id, task: m.task, executionProvider: m.executionProvider },
      pacing: { ...this.pacingNow, description: describePacing(this.pacingNow) },
      counters: { ...c, processed: this.processed, failed: this.failed },
      fps: this.processedRate.perSecond(now),
      captureFps: this.slot.rate.perSecond(now),
      latency,
      eventLoopLag: this.lag.snapshot(),
      preparePath: this.lastPath,
      camera: this.deps.source.status(),
      lastError: this.lastError,
    };
  }

  private applyTarget(): void {
    if (this.deps.scaleInCapture === false) {
      this.deps.source.setTarget(undefined);
      return;
    }
    const accepted = this.deps.source.setTarget(targetFor(this.current.input));
    this.log.debug({ accepted, source: this.deps.source.description }, 'capture-side scaling');
  }

  private async work(signal: AbortSignal): Promise<void> {
    let pending: Promise<PreparedInput | undefined> | undefined;
    try {
      while (!signal.aborted) {
        const pacing = this.pacingNow;
        if (releasesCamera(pacing)) await this.slot.stopContinuous();
        else this.slot.startContinuous(signal);

        if (this.slot.lossless && overlapsPreparation(pacing) && !pending) {
          if ((await this.workQueued(signal)) === 'ended') break;
          continue;
        }
        const due = nextDueMs(pacing, this.lastStartMs);
        const wait = due - this.clock.now();
        if (wait > 0 && !(await this.sleep(wait, signal))) continue;

        let input = pending ? await pending : undefined;
        pending = undefined;
        if (input) input = await this.freshest(input);
        if (!input) {
          const take = releasesCamera(pacing)
            ? await this.captureOne(signal, pacing.mode === 'duty-cycle' ? pacing.warmupFrames : 0)
            : await this.slot.take(this.deps.maxFrameAgeMs, signal);
          if ('ended' in take) break;
          if ('interrupted' in take) continue;
          input = await this.prepare(take.frame);
          if (!input) continue;
        }
        if (!this.slot.lossless && this.clock.now() - input.frame.timestampMs > this.deps.maxFrameAgeMs) {
          this.slot.counters.stale++;
          this.preparer.release(input);
          continue;
        }
        const next = overlapsPreparation(this.pacingNow)
          ? () => this.slot.take(this.deps.maxFrameAgeMs, signal).then((t) => this.prepareTaken(t))
          : undefined;
        pending = (await this.infer(input, next)).pending;
      }
    } finally {
      const left = await pending;
      if (left) this.preparer.release(left);
    }
  }

  /**
   * Files read as fast as possible: two frames are handed to the model at a time, so the next
   * run starts in the worker the moment the previous ends, without waiting for the event loop to
   * decode and emit. (Live cameras keep one run at a time: a queued frame would be older.)
   */
  private async workQueued(signal: AbortSignal): Promise<'ended' | 'changed'> {
    const inflight: Array<Promise<unknown>> = [];
    try {
      while (!signal.aborted && overlapsPreparation(this.pacingNow)) {
        const take = await this.slot.take(this.deps.maxFrameAgeMs, signal);
        if ('ended' in take) return 'ended';
        if ('interrupted' in take) continue;
        let input = await this.prepare(take.frame);
        if (input && input.specKey !== specKey(this.current.input)) {
          // The model changed while this frame was prepared.
          this.preparer.release(input);
          input = await this.prepare(take.frame);
        }
        if (!input) continue;
        inflight.push(this.infer(input, undefined));
        if (inflight.length >= 2) await inflight.shift();
      }
      return 'changed';
    } finally {
      await Promise.all(inflight);
    }
  }

  private async captureOne(signal: AbortSignal, warmupFrames: number): Promise<Take> {
    const linked = linkSignals(signal, this.wakeUp.signal);
    try {
      return await this.slot.captureOne(linked.signal, warmupFrames);
    } finally {
      linked.dispose();
    }
  }

  /** A prepared-ahead frame is replaced by a newer one when preparing is cheap next to inference. */
  private async freshest(input: PreparedInput): Promise<PreparedInput | undefined> {
    const newer = this.slot.lossless ? undefined : this.slot.waitingSeq;
    const cheap = this.preparingIsCheap();
    const stale = input.specKey !== specKey(this.current.input);
    if (!stale && (newer === undefined || newer <= input.frame.seq || !cheap)) return input;
    this.preparer.release(input);
    if (stale) return this.prepare(input.frame);
    this.slot.counters.dropped++;
    return undefined;
  }

  /** Preparing costs under a tenth of inference (re-checked every 16 frames; sorting is not free). */
  private preparingIsCheap(): boolean {
    if (this.processed - this.cheapCheckedAt >= 16 || this.processed < 16) {
      this.cheapCheckedAt = this.processed;
      this.cheap =
        this.windows.preprocessMs.summary().p50Ms <= 0.1 * this.windows.inferenceMs.summary().p50Ms;
    }
    return this.cheap;
  }

  private async prepareTaken(take: Take): Promise<PreparedInput | undefined> {
    if (!('frame' in take)) return undefined;
    return this.prepare(take.frame);
  }

  private async prepare(frame: Frame): Promise<PreparedInput | undefined> {
    this.slot.busy = true;
    try {
      const input = await this.preparer.prepare(frame, this.current.input);
      this.lastPath = input.path;
      return input;
    } catch (err) {
      this.failed++;
      this.lastError = `preprocessing frame ${frame.seq}: ${errorMessage(err)}`;
      this.log.warn({ seq: frame.seq, origin: frame.origin, err: errorMessage(err) }, 'frame failed');
      return undefined;
    }
  }

  /**
   * Runs one prepared frame; while onnxruntime works, starts `prepareNext` (overlap). Returns that
   * pending preparation for the next turn.
   */
  private async infer(
    input: PreparedInput,
    prepareNext: (() => Promise<PreparedInput | undefined>) | undefined,
  ): Promise<{ pending: Promise<PreparedInput | undefined> | undefined }> {
    const model = this.current;
    this.leases.take(model);
    this.slot.busy = true;
    const started = this.clock.now();
    this.lastStartMs = started;
    const captureAgeMs = started - input.frame.timestampMs;
    const submitted = performance.now();
    const running = model.run({ data: input.data, dims: input.dims }, (data) =>
      this.preparer.reinstall(input, data),
    );
    const pending = prepareNext?.();
    try {
      const outputs = await running;
      // With two runs queued the second waits for the first: count from when its own run began.
      const t1 = Math.max(submitted, this.lastRunEndPerf);
      const t2 = performance.now();
      this.lastRunEndPerf = t2;
      const decoded = postprocess(model.decoder, outputs, model.input, input.inverse, model.labels);
      const t3 = performance.now();
      const completedAtMs = this.clock.now();
      const timings: PipelineTimings = {
        captureAgeMs: round(captureAgeMs),
        preprocessMs: input.preprocessMs,
        inferenceMs: round(t2 - t1),
        postprocessMs: round(t3 - t2),
        totalMs: round(completedAtMs - input.frame.timestampMs),
      };
      for (const [k, w] of Object.entries(this.windows)) w.add(timings[k as keyof PipelineTimings]);
      this.processed++;
      this.processedRate.add(completedAtMs);
      const result: FrameResult = {
        model: model.name,
        variant: model.variant.id,
        task: model.task,
        imageWidth: input.imageWidth,
        imageHeight: input.imageHeight,
        ...decoded,
        timings,
        seq: input.frame.seq,
        origin: input.frame.origin,
        capturedAtMs: input.frame.timestampMs,
        completedAtMs,
        preparePath: input.path,
      };
      this.latestResult = result;
      this.emit(result, input.frame);
    } catch (err) {
      this.failed++;
      this.lastError = `inference on frame ${input.frame.seq}: ${errorMessage(err)}`;
      this.log.warn({ seq: input.frame.seq, err: errorMessage(err) }, 'frame failed');
    } finally {
      this.preparer.release(input);
      this.leases.give(model);
      this.slot.busy = false;
    }
    return { pending };
  }

  private emit(result: FrameResult, frame: Frame): void {
    for (const listener of this.listeners) {
      try {
        listener(result, frame);
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'result listener failed');
      }
    }
  }

  /** Sleeps until due; false when cut short (pacing changed) so the caller re-plans. */
  private async sleep(ms: number, signal: AbortSignal): Promise<boolean> {
    const linked = linkSignals(signal, this.wakeUp.signal);
    try {
      await this.clock.sleep(ms, linked.signal);
      return true;
    } catch (err) {
      if (isAbortError(err)) return false;
      throw err;
    } finally {
      linked.dispose();
    }
  }

  private async cleanup(): Promise<void> {
    await this.slot
      .stopContinuous()
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'stopping capture failed'));
    this.lag.stop();
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;
