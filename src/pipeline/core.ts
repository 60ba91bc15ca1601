import { linkSignals } from '../camera/signals.js';
import type { Frame, FrameSource } from '../camera/types.js';
import { type Clock, isAbortError } from '../clock.js';
import { errorMessage } from '../errors.js';
import { postprocess } from '../inference/postprocess.js';
import type { Logger } from '../log.js';
import { LatencyWindow } from '../telemetry/percentiles.js';
import { FrameSlot, type Take } from './capture.js';
import { Leases } from './leases.js';
import { nextDueMs, overlapsPreparation, type Pacing, releasesCamera } from './pacing.js';
import { type PreparedInput, type PreparePath, specKey, type TensorPreparer } from './prepare.js';
import { RateMeter } from './stats.js';
import type { FrameListener, FrameResult, PipelineModel, PipelineStats, PipelineTimings } from './types.js';

/**
 * How the loop runs, from the pacing and the source (pure):
 * - `queued`: a file read as fast as possible — two frames handed to the model at a time, nothing dropped;
 * - `overlapped`: a live camera as fast as the model goes — the next frame is prepared during inference;
 * - `paced`: an fps limit or a short duty cycle — the newest frame at each due time;
 * - `shots`: a long duty cycle — the camera is started for each frame and released in between.
 */
export type LoopMode = 'queued' | 'overlapped' | 'paced' | 'shots';

export function loopMode(pacing: Pacing, lossless: boolean): LoopMode {
  if (releasesCamera(pacing)) return 'shots';
  if (!overlapsPreparation(pacing)) return 'paced';
  return lossless ? 'queued' : 'overlapped';
}

export interface CoreDeps {
  source: FrameSource;
  model: PipelineModel;
  pacing: Pacing;
  maxFrameAgeMs: number;
  log: Logger;
  clock: Clock;
  /** Monotonic milliseconds for stage timings. */
  stopwatch: () => number;
  preparer: TensorPreparer;
  /** Frees each output once decoded, and capture frames dropped without a result (PipelineDeps.release). */
  release?: (view: ArrayBufferView) => void;
}

const STAGES = ['captureAgeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs', 'totalMs'] as const;

/**
 * What every loop mode shares: the frame slot, preparation, one inference with its timings and
 * results, counters and the model/pacing in force. The modes (strategies.ts) only decide the order.
 */
export class PipelineCore {
  model: PipelineModel;
  pacing: Pacing;
  readonly slot: FrameSlot;
  readonly leases = new Leases<PipelineModel>();
  private readonly listeners = new Set<FrameListener>();
  private readonly windows = Object.fromEntries(
    STAGES.map((k) => [k, new LatencyWindow(512, { keep: 'recent' })]),
  ) as Record<(typeof STAGES)[number], LatencyWindow>;
  private readonly processedRate = new RateMeter();
  /** Counted here, beside what capture counts: frames dropped or gone stale after leaving the slot. */
  private readonly own = { processed: 0, failed: 0, dropped: 0, stale: 0 };
  private busy = false;
  lastError: string | undefined;
  private lastPath: PreparePath | undefined;
  private lastStartMs: number | undefined;
  private lastRunEnd = 0;
  private latestResult: FrameResult | undefined;
  /** A frame prepared during the previous inference (overlap), for the next turn. */
  private ahead: Promise<PreparedInput | undefined> | undefined;
  private cheap = true;
  private cheapCheckedAt = 0;
  private wakeUp = new AbortController();

  constructor(private readonly deps: CoreDeps) {
    this.model = deps.model;
    this.pacing = deps.pacing;
    this.slot = new FrameSlot(
      deps.source,
      deps.clock,
      deps.log,
      () => this.busy,
      (frame) => this.discard(frame),
    );
  }

  /**
   * A frame the pipeline lets go of without a result (replaced, stale, dropped for a newer one):
   * a capture frame's memory is freed now (`Frame.ownsBuffer`: nobody else has its buffer, and a
   * frame without a result was never handed to a listener), not at the thread's next collection.
   */
  private discard(frame: Frame): void {
    if (frame.ownsBuffer) this.deps.release?.(frame.data);
  }

  get mode(): LoopMode {
    return loopMode(this.pacing, this.slot.lossless);
  }

  get latest(): FrameResult | undefined {
    return this.latestResult;
  }

  onResult(listener: FrameListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Cuts a pending wait or take short (the pacing changed). */
  wake(): void {
    this.wakeUp.abort();
    this.wakeUp = new AbortController();
    this.slot.interrupt();
  }

  take(signal: AbortSignal): Promise<Take> {
    return this.slot.take(this.deps.maxFrameAgeMs, signal);
  }

  async captureOne(signal: AbortSignal): Promise<Take> {
    const pacing = this.pacing;
    const linked = linkSignals(signal, this.wakeUp.signal);
    try {
      return await this.slot.captureOne(
        linked.signal,
        pacing.mode === 'duty-cycle' ? pacing.warmupFrames : 0,
      );
    } finally {
      linked.dispose();
    }
  }

  /** Sleeps until the pacing's next due time; false when cut short (pacing changed) so the caller re-plans. */
  async waitUntilDue(signal: AbortSignal): Promise<boolean> {
    const wait = nextDueMs(this.pacing, this.lastStartMs) - this.deps.clock.now();
    if (wait <= 0) return true;
    const linked = linkSignals(signal, this.wakeUp.signal);
    try {
      await this.deps.clock.sleep(wait, linked.signal);
      return true;
    } catch (err) {
      if (isAbortError(err)) return false;
      throw err;
    } finally {
      linked.dispose();
    }
  }

  /**
   * The input for this turn: the frame prepared ahead when still good, else one from `acquire`,
   * prepared for the current model. `ended` when the source ended; undefined: nothing this turn.
   */
  async nextInput(acquire: () => Promise<Take>): Promise<PreparedInput | 'ended' | undefined> {
    const carried = await this.takeAhead();
    if (carried) return carried;
    const take = await acquire();
    if ('ended' in take) return 'ended';
    if ('interrupted' in take) return undefined;
    return this.prepare(take.frame);
  }

  /** A live frame that grew older than the age limit while it waited is released, not inferred. */
  discardIfStale(input: PreparedInput): boolean {
    if (this.slot.lossless || this.deps.clock.now() - input.frame.timestampMs <= this.deps.maxFrameAgeMs)
      return false;
    this.own.stale++;
    this.deps.preparer.release(input);
    this.discard(input.frame);
    return true;
  }

  /** Prepares for the current model, again if the model changed while it was prepared. */
  async prepareCurrent(frame: Frame): Promise<PreparedInput | undefined> {
    const input = await this.prepare(frame);
    if (!input || input.specKey === specKey(this.model.input)) return input;
    this.deps.preparer.release(input);
    return this.prepare(frame);
  }

  async prepare(frame: Frame): Promise<PreparedInput | undefined> {
    this.busy = true;
    try {
      const input = await this.deps.preparer.prepare(frame, this.model.input);
      this.lastPath = input.path;
      return input;
    } catch (err) {
      this.own.failed++;
      this.lastError = `preprocessing frame ${frame.seq}: ${errorMessage(err)}`;
      this.deps.log.warn({ seq: frame.seq, origin: frame.origin, err: errorMessage(err) }, 'frame failed');
      return undefined;
    }
  }

  /**
   * Runs one prepared frame. With `aheadSignal`, the next frame is taken and prepared while
   * onnxruntime works (overlap); the next turn's `nextInput` gets it.
   */
  async infer(input: PreparedInput, aheadSignal?: AbortSignal): Promise<void> {
    const { clock, stopwatch, preparer, log } = this.deps;
    const model = this.model;
    this.leases.take(model);
    this.busy = true;
    const started = clock.now();
    this.lastStartMs = started;
    const captureAgeMs = started - input.frame.timestampMs;
    const submitted = stopwatch();
    const running = model.run({ data: input.data, dims: input.dims }, (data) =>
      preparer.reinstall(input, data),
    );
    if (aheadSignal) {
      this.ahead = this.take(aheadSignal).then((t) => ('frame' in t ? this.prepare(t.frame) : undefined));
    }
    try {
      const outputs = await running;
      // With two runs queued the second waits for the first: count from when its own run began.
      const t1 = Math.max(submitted, this.lastRunEnd);
      const t2 = stopwatch();
      this.lastRunEnd = t2;
      const decoded = postprocess(model.decoder, outputs, model.input, input.inverse, model.labels);
      if (this.deps.release) for (const o of Object.values(outputs)) this.deps.release(o.data);
      const t3 = stopwatch();
      const completedAtMs = clock.now();
      const timings: PipelineTimings = {
        captureAgeMs: round(captureAgeMs),
        preprocessMs: input.preprocessMs,
        inferenceMs: round(t2 - t1),
        postprocessMs: round(t3 - t2),
        totalMs: round(completedAtMs - input.frame.timestampMs),
      };
      for (const k of STAGES) this.windows[k].add(timings[k]);
      this.own.processed++;
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
      this.own.failed++;
      this.lastError = `inference on frame ${input.frame.seq}: ${errorMessage(err)}`;
      log.warn({ seq: input.frame.seq, err: errorMessage(err) }, 'frame failed');
    } finally {
      preparer.release(input);
      this.leases.give(model);
      this.busy = false;
    }
  }

  /** A frame is being prepared or run (the heap keeper waits for a gap between frames). */
  get working(): boolean {
    return this.busy;
  }

  /** Releases a frame prepared ahead that no turn will use (shutdown). */
  async dropAhead(): Promise<void> {
    const left = await this.ahead;
    this.ahead = undefined;
    if (left) {
      this.deps.preparer.release(left);
      this.discard(left.frame);
    }
  }

  counters(): PipelineStats['counters'] {
    const c = this.slot.counters;
    return {
      captured: c.captured,
      dropped: c.dropped + this.own.dropped,
      skipped: c.skipped,
      stale: c.stale + this.own.stale,
      processed: this.own.processed,
      failed: this.own.failed,
    };
  }

  latency(): PipelineStats['latency'] {
    return Object.fromEntries(STAGES.map((k) => [k, this.windows[k].latency()])) as PipelineStats['latency'];
  }

  fps(now: number): number {
    return this.processedRate.perSecond(now);
  }

  get preparePath(): PreparePath | undefined {
    return this.lastPath;
  }

  /**
   * The frame prepared ahead, unless it was made for another model (prepared again) or a newer
   * frame is waiting and preparing is cheap next to inference (then dropped for the newer one).
   */
  private async takeAhead(): Promise<PreparedInput | undefined> {
    const ahead = this.ahead;
    this.ahead = undefined;
    const input = ahead ? await ahead : undefined;
    if (!input) return undefined;
    const newer = this.slot.lossless ? undefined : this.slot.waitingSeq;
    const cheap = this.preparingIsCheap();
    const stale = input.specKey !== specKey(this.model.input);
    if (!stale && (newer === undefined || newer <= input.frame.seq || !cheap)) return input;
    this.deps.preparer.release(input);
    if (stale) return this.prepare(input.frame);
    this.own.dropped++;
    this.discard(input.frame);
    return undefined;
  }

  /** Preparing costs under a tenth of inference (re-checked every 16 frames; sorting is not free). */
  private preparingIsCheap(): boolean {
    const processed = this.own.processed;
    if (processed - this.cheapCheckedAt >= 16 || processed < 16) {
      this.cheapCheckedAt = processed;
      this.cheap =
        this.windows.preprocessMs.latency().p50Ms <= 0.1 * this.windows.inferenceMs.latency().p50Ms;
    }
    return this.cheap;
  }

  private emit(result: FrameResult, frame: Frame): void {
    for (const listener of this.listeners) {
      try {
        listener(result, frame);
      } catch (err) {
        this.deps.log.warn({ err: errorMessage(err) }, 'result listener failed');
      }
    }
  }
}

const round = (v: number) => Math.round(v * 1000) / 1000;
