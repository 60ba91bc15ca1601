import type { MessagePort } from 'node:worker_threads';
import type { CameraConfig } from '../../camera/index.js';
import type { CameraStateChange, CameraStatus, Frame } from '../../camera/types.js';
import type { ExecutionProvidersInfo } from '../../hardware/schema.js';
import type { ImageLimits } from '../../image/limits.js';
import type { ModelInfo } from '../../inference/port-model.js';
import type { ServeSessionOptions } from '../../inference/serve-session.mjs';
import type { HeapKeeperOptions } from '../../service/heap-keeper.js';
import type { Pacing } from '../pacing.js';
import type { FrameResult, PipelineStats } from '../types.js';

/**
 * Messages between the main thread (RemotePipeline) and the pipeline worker (worker-main.ts).
 * Per frame only `result` crosses (bytes: detections, timings, counters); pixels only in `result`
 * while frames are wanted and in `latest-frame` replies.
 */
export interface PipelineWorkerData {
  /** Module the bootstrap imports (worker-main.ts under tsx/vitest, worker-main.js in dist/). */
  entry: string;
}

/** The first message: what to run (the worker may be started before the model is loaded). */
export interface PipelineInit {
  type: 'init';
  camera: CameraConfig;
  imageLimits?: ImageLimits;
  pacing: Pacing;
  maxFrameAgeMs: number;
  scaleInCapture: boolean;
  logLevel: string;
  model: ModelInfo;
  /** A port to the model's session (WorkerModel.openPort), transferred; none: no session. */
  port: MessagePort | undefined;
  /** The worker's heap keeper (src/service/heap-keeper.ts); none: V8's own schedule. */
  heapKeeper?: HeapKeeperOptions;
}

/**
 * Serve an onnxruntime session on `port` in the pipeline worker's thread (session-host.ts), at any
 * time — also before `init`: the first model loads while the worker starts.
 */
export interface HostSession {
  type: 'host-session';
  port: MessagePort;
  session: ServeSessionOptions;
}

/**
 * Probe onnxruntime's execution providers in the pipeline worker (provider-probe-host.ts), at any
 * time: onnxruntime is loaded there for the sessions, so the main thread never loads it. The
 * probe's log lines and its answer come back on `port`.
 */
export interface ProbeProviders {
  type: 'probe-providers';
  port: MessagePort;
  logLevel: string;
}

export type ProbeReply =
  | { type: 'log'; line: string }
  | { type: 'done'; info: ExecutionProvidersInfo }
  | { type: 'failed'; message: string };

export type ToWorker =
  | { type: 'start' }
  | { type: 'stop' }
  | { type: 'pacing'; pacing: Pacing; quiet?: boolean }
  | { type: 'model'; model: ModelInfo; port: MessagePort | undefined }
  | { type: 'frames'; want: boolean }
  | { type: 'latest-frame'; id: number }
  /**
   * A worker that will not be told to run a pipeline (a restart given up, or stopped before it
   * started): it ends once the sessions it hosts are released and a provider probe under way has
   * answered. Never `terminate()` a worker that may host a session or probe: onnxruntime-node's
   * `run` is synchronous in that thread, and a termination during one — or during a session's
   * creation — aborts the whole process (docs/camera.md).
   */
  | { type: 'close' };

export type FromWorker =
  | { type: 'ready'; description: string; stats: PipelineStats }
  | { type: 'result'; result: FrameResult; counters: PipelineStats['counters']; frame?: Frame }
  | { type: 'stats'; stats: PipelineStats }
  | { type: 'camera'; change: CameraStateChange; status: CameraStatus }
  | { type: 'log'; line: string }
  | { type: 'retired'; key: number }
  | { type: 'latest-frame'; id: number; pair: { result: FrameResult; frame: Frame } | undefined }
  | { type: 'finished'; stats: PipelineStats; error?: string };
