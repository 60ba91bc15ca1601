import type { CameraStatus, Frame } from '../camera/types.js';
import type { ImageLimits } from '../image/limits.js';
import type { ModelDescription } from '../inference/infer-image.js';
import type { OutputTensor } from '../inference/postprocess.js';
import type { InferenceResult, StageTimings } from '../inference/types.js';
import type { LatencySummary } from '../telemetry/percentiles.js';
import type { Pacing } from './pacing.js';
import type { PreparePath } from './prepare.js';

/** What the pipeline needs of a model; `WorkerModel` and `InferenceModel` are ones, tests pass slow fakes. */
export interface PipelineModel extends ModelDescription {
  readonly executionProvider?: string;
  /**
   * Runs the model on a prepared tensor. A model that moves the buffer elsewhere (an inference
   * worker) hands it back through `recycle` so it can be reused.
   */
  run(
    input: { data: Float32Array | Uint8Array; dims: [number, number, number, number] },
    recycle?: (data: Float32Array | Uint8Array) => void,
  ): Promise<Record<string, OutputTensor>>;
  /** One encoded still (POST /api/infer), decoded and preprocessed like `edge-agent infer`. */
  inferEncoded(input: Buffer, limits?: ImageLimits): Promise<InferenceResult>;
  dispose(): Promise<void>;
}

export interface PipelineTimings extends StageTimings {
  /** Age of the frame when inference started. */
  captureAgeMs: number;
  /** Capture to result. */
  totalMs: number;
}

/** One inferred frame: the decoded results, the frame's capture time and the variant that made them. */
export interface FrameResult extends Omit<InferenceResult, 'timings'> {
  seq: number;
  origin: string;
  capturedAtMs: number;
  completedAtMs: number;
  timings: PipelineTimings;
  preparePath: PreparePath;
}

/** Results only: what most consumers need (bytes per frame, wherever the pipeline runs). */
export type ResultListener = (result: FrameResult) => void;
/**
 * Results with their pixels. With the pipeline in a worker (RemotePipeline), frames cross to the
 * main thread only while such a listener is subscribed: subscribe for as long as pixels are needed.
 * The frame is the listener's to read during the call; copy what must outlive it.
 */
export type FrameListener = (result: FrameResult, frame: Frame) => void;

/** An inferred frame with its result (the newest one, asked for by a snapshot). */
export interface FramePair {
  result: FrameResult;
  frame: Frame;
}

/** Where results and, on request, pixels come from: `Pipeline` here or `RemotePipeline` in a worker. */
export interface ResultStream {
  onResult(listener: ResultListener): () => void;
  onFrame(listener: FrameListener): () => void;
  /** A copy of the newest inferred frame and its result; undefined before the first. */
  latestFrame(): Promise<FramePair | undefined>;
}

export interface PipelineStats {
  state: 'idle' | 'running' | 'stopped' | 'failed';
  model: { name: string; variant: string; task: string; executionProvider: string | undefined };
  pacing: Pacing & { description: string };
  counters: {
    captured: number;
    processed: number;
    dropped: number;
    skipped: number;
    stale: number;
    failed: number;
  };
  /** Inferences per second over the last 5 s; captureFps: frames from the source. */
  fps: number;
  captureFps: number;
  latency: Record<
    'captureAgeMs' | 'preprocessMs' | 'inferenceMs' | 'postprocessMs' | 'totalMs',
    LatencySummary
  >;
  /** Event-loop delay over the last minute (ms): the agent stays responsive while inferring. */
  eventLoopLag: { p50Ms: number; p99Ms: number; maxMs: number };
  preparePath: PreparePath | undefined;
  camera: CameraStatus;
  lastError: string | undefined;
  /**
   * A pipeline that restarts itself after a failure (the agent's, in a worker thread): restarts
   * done, consecutive failures (0 after a stable run), and when the next attempt is due while failed.
   */
  restarts?: { count: number; failures: number; nextAtMs: number | undefined };
}

/** A pipeline as the agent drives it, wherever it runs (`Pipeline` here, `RemotePipeline` in a worker). */
export interface RunningPipeline extends ResultStream {
  readonly model: PipelineModel;
  readonly pacing: Pacing;
  latest(): FrameResult | undefined;
  start(signal?: AbortSignal): void;
  finished(): Promise<PipelineStats>;
  stop(): Promise<void>;
  /** `quiet`: logged at debug (the tuner's measurement bursts pause and resume every few seconds). */
  setPacing(pacing: Pacing, options?: { quiet?: boolean }): void;
  withModel<T>(fn: (model: PipelineModel) => Promise<T>): Promise<T>;
  stats(): PipelineStats;
}
