import type { MessagePort, TransferListItem, Worker } from 'node:worker_threads';
import { levels } from 'pino';
import type { CameraConfig } from '../../camera/index.js';
import type { CameraStateChange, CameraStatus } from '../../camera/types.js';
import { redactUrl } from '../../camera/uri.js';
import { EdgeAgentError, errorMessage } from '../../errors.js';
import type { ImageLimits } from '../../image/limits.js';
import type { ModelInfo } from '../../inference/port-model.js';
import type { Logger } from '../../log.js';
import { LagMonitor, Leases } from '../leases.js';
import { describePacing, type Pacing } from '../pacing.js';
import type {
  FrameListener,
  FramePair,
  FrameResult,
  PipelineModel,
  PipelineStats,
  ResultListener,
  ResultStream,
} from '../types.js';
import type { FromWorker, PipelineInit, ToWorker } from './protocol.js';
import { startPipelineWorker } from './spawn.js';

export { startPipelineWorker } from './spawn.js';

export interface RemotePipelineDeps {
  /** The camera section: the source is built and read in the pipeline worker. */
  camera: CameraConfig;
  imageLimits?: ImageLimits;
  /**
   * The model whose session the pipeline worker runs frames through (a `WorkerModel`), or
   * one without a session (the agent's no-model stand-in: the pipeline is not started with it).
   */
  model: PipelineModel;
  pacing: Pacing;
  maxFrameAgeMs: number;
  scaleInCapture?: boolean;
  log: Logger;
  /** Where the worker's own log lines go (they carry their component); `log` by default. */
  relayLog?: Logger;
  /** A worker started early by `startPipelineWorker` (its modules load while the model loads). */
  worker?: Worker;
}

const EMPTY_COUNTERS: PipelineStats['counters'] = {
  captured: 0,
  processed: 0,
  dropped: 0,
  skipped: 0,
  stale: 0,
  failed: 0,
};

/**
 * The camera pipeline run in a worker thread (worker-main.ts): the capture process's output, the
 * prepared tensors and the model's raw outputs never reach the main thread — per frame it gets one
 * small result message. Pixels come only on request (`onFrame` while subscribed, `latestFrame`).
 * Same surface as `Pipeline`; control (pacing, model switch, stop) is a message to the worker.
 */
export class RemotePipeline implements ResultStream {
  private readonly worker: Worker;
  private readonly log: Logger;
  private readonly relayLog: Logger;
  private current: PipelineModel;
  private pacingNow: Pacing;
  private state: PipelineStats['state'] = 'idle';
  private snapshot: PipelineStats | undefined;
  private countersNow = EMPTY_COUNTERS;
  private cameraStatus: CameraStatus | undefined;
  private latestResult: FrameResult | undefined;
  private lastError: string | undefined;
  private readonly results = new Set<ResultListener>();
  private readonly frames = new Set<FrameListener>();
  private readonly cameraListeners = new Set<(change: CameraStateChange) => void>();
  private readonly retiring = new Map<number, () => void>();
  private readonly frameRequests = new Map<number, (pair: FramePair | undefined) => void>();
  private readonly keys = new WeakMap<PipelineModel, number>();
  private readonly leases = new Leases<PipelineModel>();
  private readonly lag = new LagMonitor();
  /** Frames (pixels) that crossed from the worker: with results while wanted, and `latestFrame` copies. */
  framesReceived = 0;
  private nextKey = 1;
  private nextRequest = 1;
  private exited = false;
  private finishedOnce: { resolve: () => void; reject: (err: Error) => void } | undefined;
  private readonly done: Promise<void>;
  private started = false;
  private stopping = false;
  private description: string;

  constructor(deps: RemotePipelineDeps) {
    this.log = deps.log;
    this.relayLog = deps.relayLog ?? deps.log;
    this.current = deps.model;
    this.pacingNow = deps.pacing;
    this.description = redactUrl(deps.camera.source);
    this.done = new Promise<void>((resolve, reject) => {
      this.finishedOnce = { resolve, reject };
    });
    this.done.catch(() => undefined);
    this.worker = deps.worker ?? startPipelineWorker();
    const port = portTo(deps.model);
    const init: PipelineInit = {
      type: 'init',
      camera: deps.camera,
      ...(deps.imageLimits ? { imageLimits: deps.imageLimits } : {}),
      pacing: deps.pacing,
      maxFrameAgeMs: deps.maxFrameAgeMs,
      scaleInCapture: deps.scaleInCapture ?? true,
      logLevel: deps.log.level,
      model: this.infoOf(deps.model),
      port,
    };
    this.worker.postMessage(init, port ? [port] : []);
    this.worker.on('message', (msg: FromWorker) => this.onMessage(msg));
    this.worker.on('error', (err) => this.end(`pipeline worker crashed: ${errorMessage(err)}`));
    this.worker.on('exit', (code) => {
      this.exited = true;
      // Terminated by stop() (never started, or not ending in time): not a failure.
      this.end(code === 0 || this.stopping ? undefined : `pipeline worker exited (code ${code})`);
    });
  }

  /** The model whose session runs the frames (and `withModel`'s stills, on this thread). */
  get model(): PipelineModel {
    return this.current;
  }

  get pacing(): Pacing {
    return this.pacingNow;
  }

  /** The camera as the main thread sees it: state changes and status reported by the worker. */
  readonly camera = {
    description: () => this.description,
    status: (): CameraStatus | undefined => this.cameraStatus ?? this.snapshot?.camera,
    onStateChange: (listener: (change: CameraStateChange) => void): (() => void) => {
      this.cameraListeners.add(listener);
      return () => this.cameraListeners.delete(listener);
    },
  };

  latest(): FrameResult | undefined {
    return this.latestResult;
  }

  onResult(listener: ResultListener): () => void {
    this.results.add(listener);
    return () => this.results.delete(listener);
  }

  onFrame(listener: FrameListener): () => void {
    this.frames.add(listener);
    if (this.frames.size === 1) this.send({ type: 'frames', want: true });
    return () => {
      if (this.frames.delete(listener) && this.frames.size === 0) this.send({ type: 'frames', want: false });
    };
  }

  latestFrame(): Promise<FramePair | undefined> {
    if (this.exited) return Promise.resolve(undefined);
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      this.frameRequests.set(id, resolve);
      this.send({ type: 'latest-frame', id });
    });
  }

  start(signal?: AbortSignal): void {
    if (this.started) throw new Error('pipeline already started');
    this.started = true;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.state = 'running';
    this.lag.start();
    this.worker.ref();
    this.send({ type: 'start' });
  }

  async finished(): Promise<PipelineStats> {
    await this.done;
    return this.stats();
  }

  /** Stops capture and inference; the worker ends (terminated if it does not within 10 s). */
  async stop(): Promise<void> {
    if (this.exited) return;
    this.stopping = true;
    if (!this.started) {
      await this.worker.terminate();
      return;
    }
    this.send({ type: 'stop' });
    const timer = setTimeout(() => void this.worker.terminate(), 10_000);
    await this.done.catch(() => undefined);
    clearTimeout(timer);
  }

  /**
   * Switches the model without stopping: the worker's frame in flight finishes on the old one,
   * which is then disposed (after any `withModel` users are done with it).
   */
  async setModel(next: PipelineModel): Promise<void> {
    const old = this.current;
    if (old === next) return;
    this.current = next;
    const oldKey = this.keys.get(old);
    const retired = new Promise<void>((resolve) => {
      if (this.exited || oldKey === undefined) resolve();
      else this.retiring.set(oldKey, resolve);
    });
    if (!this.exited) {
      const port = portTo(next);
      this.send({ type: 'model', model: this.infoOf(next), port }, port ? [port] : []);
    }
    this.log.info(
      { model: next.name, variant: next.variant.id, previous: `${old.name}/${old.variant.id}` },
      'model switched',
    );
    await retired;
    await this.leases.idle(old);
    await old
      .dispose()
      .catch((err) => this.log.warn({ err: errorMessage(err) }, 'releasing the old model failed'));
  }

  setPacing(pacing: Pacing, options?: { quiet?: boolean }): void {
    this.pacingNow = pacing;
    const quiet = options?.quiet === true;
    this.log[quiet ? 'debug' : 'info']({ pacing: describePacing(pacing) }, 'pacing changed');
    this.send({ type: 'pacing', pacing, ...(quiet ? { quiet } : {}) });
  }

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
    const s = this.snapshot;
    const m = this.current;
    const empty = { count: 0, meanMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0 };
    return {
      state: this.state,
      model: { name: m.name, variant: m.variant.id, task: m.task, executionProvider: m.executionProvider },
      pacing: { ...this.pacingNow, description: describePacing(this.pacingNow) },
      counters: { ...this.countersNow },
      fps: s?.fps ?? 0,
      captureFps: s?.captureFps ?? 0,
      latency: s?.latency ?? {
        captureAgeMs: empty,
        preprocessMs: empty,
        inferenceMs: empty,
        postprocessMs: empty,
        totalMs: empty,
      },
      // This thread's lag: what HTTP and MQTT feel.
      eventLoopLag: this.lag.snapshot(),
      preparePath: s?.preparePath,
      camera: this.cameraStatus ?? s?.camera ?? this.idleCamera(),
      lastError: this.lastError ?? s?.lastError,
    };
  }

  private send(msg: ToWorker, transfer: TransferListItem[] = []): void {
    if (!this.exited) this.worker.postMessage(msg, transfer);
  }

  private infoOf(model: PipelineModel): ModelInfo {
    let key = this.keys.get(model);
    if (key === undefined) {
      key = this.nextKey++;
      this.keys.set(model, key);
    }
    return {
      key,
      name: model.name,
      variant: { id: model.variant.id },
      task: model.task,
      input: model.input,
      decoder: model.decoder,
      labels: [...model.labels],
      executionProvider: model.executionProvider,
    };
  }

  private onMessage(msg: FromWorker): void {
    switch (msg.type) {
      case 'result': {
        this.countersNow = msg.counters;
        this.latestResult = msg.result;
        for (const listener of this.results) this.call(() => listener(msg.result));
        if (msg.frame) this.framesReceived++;
        if (msg.frame) for (const listener of this.frames) this.call(() => listener(msg.result, msg.frame!));
        return;
      }
      case 'stats':
      case 'ready':
        this.snapshot = msg.stats;
        this.countersNow = msg.stats.counters;
        this.cameraStatus = msg.stats.camera;
        if (msg.type === 'ready') this.description = msg.description;
        return;
      case 'camera':
        this.cameraStatus = msg.status;
        for (const listener of this.cameraListeners) this.call(() => listener(msg.change));
        return;
      case 'log':
        this.relay(msg.line);
        return;
      case 'retired':
        this.retiring.get(msg.key)?.();
        this.retiring.delete(msg.key);
        return;
      case 'latest-frame':
        if (msg.pair) this.framesReceived++;
        this.frameRequests.get(msg.id)?.(msg.pair);
        this.frameRequests.delete(msg.id);
        return;
      case 'finished':
        this.snapshot = msg.stats;
        this.countersNow = msg.stats.counters;
        this.cameraStatus = msg.stats.camera;
        this.end(msg.error, msg.stats.state === 'failed');
        return;
    }
  }

  /** The pipeline ended (finished, crashed or exited): settles everything waiting on the worker. */
  private end(error: string | undefined, failed = error !== undefined): void {
    for (const resolve of this.retiring.values()) resolve();
    this.retiring.clear();
    if (this.exited) {
      for (const resolve of this.frameRequests.values()) resolve(undefined);
      this.frameRequests.clear();
    }
    const once = this.finishedOnce;
    if (!once) return;
    this.finishedOnce = undefined;
    this.lag.stop();
    if (failed) {
      this.state = 'failed';
      this.lastError = error ?? this.snapshot?.lastError;
      once.reject(new EdgeAgentError(this.lastError ?? 'pipeline failed'));
    } else {
      this.state = this.started ? 'stopped' : 'idle';
      once.resolve();
    }
  }

  /** A worker log line, written through this thread's logger at its level. */
  private relay(line: string): void {
    try {
      const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string };
      const label = (levels.labels[level] ?? 'info') as 'info';
      this.relayLog[label](fields, msg);
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, 'unreadable pipeline worker log line');
    }
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, 'result listener failed');
    }
  }

  private idleCamera(): CameraStatus {
    return {
      source: this.description,
      state: 'stopped',
      sinceMs: Date.now(),
      lastFrameAtMs: undefined,
      framesDelivered: 0,
      reconnects: 0,
      stalls: 0,
      reconnectsLastHour: 0,
      stallsLastHour: 0,
      quality: 'unusable',
      lastError: undefined,
      width: undefined,
      height: undefined,
      preparedFor: undefined,
      pid: undefined,
    };
  }
}

/** A port to the model's session; none for a model without one (the no-model stand-in). */
function portTo(model: PipelineModel): MessagePort | undefined {
  const openPort = (model as { openPort?: () => MessagePort }).openPort;
  return openPort ? openPort.call(model) : undefined;
}
