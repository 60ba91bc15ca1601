import type { MessagePort, TransferListItem, Worker } from 'node:worker_threads';
import { levels } from 'pino';
import { type BackoffPolicy, backoffDelayMs } from '../../camera/health.js';
import type { CameraConfig } from '../../camera/index.js';
import type { CameraStateChange, CameraStatus } from '../../camera/types.js';
import { redactUrl } from '../../camera/uri.js';
import { EdgeAgentError, errorMessage } from '../../errors.js';
import type { ExecutionProvidersInfo } from '../../hardware/schema.js';
import type { ImageLimits } from '../../image/limits.js';
import type { ModelInfo } from '../../inference/port-model.js';
import type { SessionHost } from '../../inference/session-link.js';
import type { Logger } from '../../log.js';
import type { HeapKeeperOptions } from '../../service/heap-keeper.js';
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
import { probeInPipelineWorker } from './provider-probe-host.js';
import { pipelineSessionHost } from './session-host.js';
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
  /** Starts a worker (the first when `worker` is not given, and each restart): `startPipelineWorker`. */
  spawn?: () => Worker;
  /** When given, a pipeline that fails while running is restarted in a new worker (see PipelineRecovery). */
  recovery?: PipelineRecovery;
  /** The worker's heap keeper (src/service/heap-keeper.ts); none: V8's own schedule. */
  heapKeeper?: HeapKeeperOptions | undefined;
}

/**
 * What brings a failed pipeline back. The worker thread hosts the model's session, so a new worker
 * needs the model loaded again into it: `reload` does that (the agent's ModelHost). Without a
 * recovery a failure ends the pipeline (`finished()` rejects), as for a pipeline run by a test.
 */
export interface PipelineRecovery {
  /**
   * Loads the model the pipeline runs (`running`) again, its session hosted by the new worker
   * (`host`); may return another one (a switch landed meanwhile, or a fallback). Rejecting counts
   * as a failed attempt: the next comes after the backoff.
   */
  reload(host: SessionHost, running: PipelineModel): Promise<PipelineModel>;
  /** Delay before each attempt; PIPELINE_RESTART_POLICY by default. */
  policy?: BackoffPolicy;
  /** A run that lasted this long (ms) resets the backoff: the next failure restarts after `initialMs`. */
  stableMs?: number;
  /** The pipeline failed (attempt = consecutive failures); it is restarted in `restartInMs`. */
  onFailure?(info: { error: string; attempt: number; restartInMs: number }): void;
  /** A new worker runs the pipeline again, after `downMs` without inference. */
  onRestart?(info: { attempt: number; downMs: number; model: PipelineModel }): void;
}

/**
 * A crash or a failed source is retried quickly at first (a one-off fault), then at most once a
 * minute (a fault that stays: a camera gone, a broken model file), for as long as the agent runs.
 */
export const PIPELINE_RESTART_POLICY: BackoffPolicy = {
  initialMs: 1000,
  maxMs: 60_000,
  factor: 2,
  jitter: 0.2,
};
const STABLE_MS = 5 * 60_000;

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
  private worker: Worker;
  private readonly deps: RemotePipelineDeps;
  private readonly log: Logger;
  private readonly relayLog: Logger;
  private current: PipelineModel;
  private pacingNow: Pacing;
  private state: PipelineStats['state'] = 'idle';
  private snapshot: PipelineStats | undefined;
  /** The current worker's counters; `countersBefore`: the sum of the workers before it (restarts). */
  private countersNow = EMPTY_COUNTERS;
  private countersBefore = EMPTY_COUNTERS;
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
  /** Bumped for every worker: events of a worker given up on are ignored. */
  private generation = 0;
  /** Consecutive failures (reset by a stable run), the restart waiting, and the one under way. */
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private restartAtMs: number | undefined;
  private restarting: Promise<void> | undefined;
  private failedAtMs = 0;
  private runningSinceMs = 0;
  private restartCount = 0;
  /** The worker failed before `start()` (with a recovery): `start()` restarts it. */
  private failedEarly: string | undefined;

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
    this.deps = deps;
    this.worker = deps.worker ?? this.spawn();
    this.attach(this.worker, deps.model);
  }

  private spawn(): Worker {
    return (this.deps.spawn ?? startPipelineWorker)();
  }

  /** Tells `worker` what to run (the camera, the pacing, `model`'s session) and listens to it. */
  private attach(worker: Worker, model: PipelineModel): void {
    const generation = ++this.generation;
    const mine = () => generation === this.generation;
    this.exited = false;
    // Started early (prepareAgentPipeline) and gone before it was told what to run: its 'exit' has
    // been emitted already (so nothing else would say so), and the session it hosted went with it.
    if (worker.threadId === -1) {
      this.exited = true;
      setImmediate(() => {
        if (mine()) this.end('pipeline worker ended before the pipeline started');
      });
      return;
    }
    const d = this.deps;
    const port = portTo(model);
    const init: PipelineInit = {
      type: 'init',
      camera: d.camera,
      ...(d.imageLimits ? { imageLimits: d.imageLimits } : {}),
      pacing: this.pacingNow,
      maxFrameAgeMs: d.maxFrameAgeMs,
      scaleInCapture: d.scaleInCapture ?? true,
      logLevel: d.log.level,
      model: this.infoOf(model),
      port,
      ...(d.heapKeeper ? { heapKeeper: d.heapKeeper } : {}),
    };
    worker.postMessage(init, port ? [port] : []);
    worker.on('message', (msg: FromWorker) => {
      if (mine()) this.onMessage(msg);
    });
    worker.on('error', (err) => {
      if (mine()) this.end(`pipeline worker crashed: ${errorMessage(err)}`);
    });
    worker.on('exit', (code) => {
      if (!mine()) return;
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

  /**
   * onnxruntime's execution providers probed in the pipeline worker, which loads onnxruntime for
   * its sessions anyway (provider-probe-host.ts); undefined when it cannot answer (the caller then
   * probes in its own thread), with the reason logged at debug.
   */
  async probeExecutionProviders(): Promise<ExecutionProvidersInfo | undefined> {
    if (this.exited) return undefined;
    const { info, failure } = await probeInPipelineWorker(this.worker, {
      logLevel: this.deps.log.level,
      relay: (line) => this.relay(line),
    });
    if (failure) this.log.debug({ reason: failure }, 'execution providers not probed in the pipeline worker');
    return info;
  }

  start(signal?: AbortSignal): void {
    if (this.started) throw new Error('pipeline already started');
    this.started = true;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    this.state = 'running';
    this.runningSinceMs = Date.now();
    this.lag.start();
    if (this.failedEarly !== undefined && this.deps.recovery) {
      this.failed(this.failedEarly, this.deps.recovery);
      return;
    }
    this.worker.ref();
    this.send({ type: 'start' });
  }

  async finished(): Promise<PipelineStats> {
    await this.done;
    return this.stats();
  }

  /** Stops capture and inference; the worker ends (terminated if it does not within 10 s). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer || this.restarting) {
      // Between a failure and its restart nothing runs; a restart under way ends once its model
      // has loaded (a session being created must not be cut off) and starts nothing.
      clearTimeout(this.restartTimer);
      this.restartTimer = undefined;
      await this.restarting;
      this.settle(undefined, false);
      return;
    }
    if (this.exited) {
      // Ended already (settled then), or failed before a start that never came (settled now).
      this.settle(undefined, false);
      return;
    }
    // Never started: `close` ends it as soon as nothing runs there — not terminate(), which during
    // a session's creation or a provider probe there aborts the whole process (protocol.ts).
    this.send(this.started ? { type: 'stop' } : { type: 'close' });
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
    // The worker's pipeline logs "model switched" at info when it has the new model in hand.
    this.log.debug(
      { model: next.name, variant: next.variant.id, previous: `${old.name}/${old.variant.id}` },
      'model switch sent to the inference worker',
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
      counters: this.counters(),
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
      ...(this.deps.recovery
        ? { restarts: { count: this.restartCount, failures: this.failures, nextAtMs: this.restartAtMs } }
        : {}),
    };
  }

  /** Counted over every worker this pipeline ran in (a restart does not start them at zero). */
  private counters(): PipelineStats['counters'] {
    const sum = { ...this.countersNow };
    for (const key of Object.keys(sum) as Array<keyof typeof sum>) sum[key] += this.countersBefore[key];
    return sum;
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
    if (failed && this.deps.recovery && !this.stopping) {
      const reason = error ?? this.snapshot?.lastError ?? 'pipeline failed';
      // Before the start (the worker died while the model loaded): restarted once it is started.
      if (this.started) this.failed(reason, this.deps.recovery);
      else this.failedEarly = reason;
      return;
    }
    if (this.exited) this.answerFrameRequests();
    this.settle(error, failed);
  }

  private answerFrameRequests(): void {
    for (const resolve of this.frameRequests.values()) resolve(undefined);
    this.frameRequests.clear();
  }

  /**
   * A running pipeline failed and will be restarted: the worker is given up (its events ignored from
   * now on) and a new one starts after the backoff.
   */
  private failed(error: string, recovery: PipelineRecovery): void {
    // Crashed, it is gone; after a failed source it lives on while it hosts the session, which
    // `reload` releases (it then ends by itself: terminating it could abort the process, protocol.ts).
    this.worker.unref();
    this.generation++;
    this.exited = true;
    this.answerFrameRequests();
    this.countersBefore = this.counters();
    this.countersNow = EMPTY_COUNTERS;
    this.snapshot = undefined;
    this.cameraStatus = undefined;
    this.state = 'failed';
    this.lastError = error;
    this.failedAtMs = Date.now();
    if (this.failedAtMs - this.runningSinceMs >= (recovery.stableMs ?? STABLE_MS)) this.failures = 0;
    this.failures++;
    const delay = backoffDelayMs(this.failures, recovery.policy ?? PIPELINE_RESTART_POLICY, Math.random());
    this.restartAtMs = this.failedAtMs + delay;
    this.log.error(
      { err: redactUrl(error), attempt: this.failures, restartInMs: delay },
      'pipeline failed: restarting it in a new worker',
    );
    this.call(
      () => recovery.onFailure?.({ error, attempt: this.failures, restartInMs: delay }),
      'pipeline recovery listener',
    );
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      void this.restart(recovery);
    }, delay);
  }

  /** A new worker, the model loaded again into it, and the pipeline started there. */
  private restart(recovery: PipelineRecovery): Promise<void> {
    this.restarting = this.restartIn(recovery).finally(() => {
      this.restarting = undefined;
    });
    return this.restarting;
  }

  private async restartIn(recovery: PipelineRecovery): Promise<void> {
    this.restartAtMs = undefined;
    const worker = this.spawn();
    this.worker = worker;
    let model: PipelineModel;
    try {
      model = await recovery.reload(pipelineSessionHost(worker), this.current);
    } catch (err) {
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      if (!this.stopping) this.failed(`restarting the pipeline: ${errorMessage(err)}`, recovery);
      return;
    }
    if (this.stopping) {
      // The reloaded model is the host's now (released when the agent stops); the worker ends then.
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      return;
    }
    // The model the pipeline runs from now on (`reload` disposed the one whose session was lost).
    this.current = model;
    this.attach(worker, model);
    worker.ref();
    this.send({ type: 'start' });
    if (this.frames.size > 0) this.send({ type: 'frames', want: true });
    this.state = 'running';
    this.lastError = undefined;
    this.runningSinceMs = Date.now();
    this.restartCount++;
    const downMs = this.runningSinceMs - this.failedAtMs;
    this.log.warn(
      { attempt: this.failures, downMs, model: model.name, variant: model.variant.id },
      'pipeline restarted in a new worker',
    );
    this.call(
      () => recovery.onRestart?.({ attempt: this.failures, downMs, model }),
      'pipeline recovery listener',
    );
  }

  /** Settles `finished()`: the pipeline is over (stopped, ended, or failed without recovery). */
  private settle(error: string | undefined, failed: boolean): void {
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

  /** Runs a listener; one that throws is logged and never stops the pipeline. */
  private call(fn: () => void, what = 'result listener'): void {
    try {
      fn();
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, `${what} failed`);
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
