import type { Worker } from 'node:worker_threads';
import { type CameraConfig, createSource } from '../camera/index.js';
import type { CameraStateChange } from '../camera/types.js';
import { type Clock, systemClock } from '../clock.js';
import type { ExecutionProvidersInfo } from '../hardware/schema.js';
import type { ImageLimits } from '../image/limits.js';
import type { SessionHost } from '../inference/session-link.js';
import type { Logger } from '../log.js';
import type { HeapKeeperOptions } from '../service/heap-keeper.js';
import type { Pacing } from './pacing.js';
import { Pipeline } from './pipeline.js';
import { type PipelineRecovery, RemotePipeline, startPipelineWorker } from './remote/remote-pipeline.js';
import { pipelineSessionHost } from './remote/session-host.js';
import type { PipelineModel, RunningPipeline } from './types.js';

export interface AgentPipelineOptions {
  camera: CameraConfig;
  imageLimits?: ImageLimits;
  /** A `WorkerModel` (the pipeline worker reaches its session), or the agent's no-model stand-in. */
  model: PipelineModel;
  pacing: Pacing;
  maxFrameAgeMs: number;
  scaleInCapture: boolean;
  log: Logger;
  /** Where the pipeline worker's log lines go (they name their component). */
  relayLog?: Logger;
  /** Another clock than the system's (tests) cannot cross into a worker: the pipeline then runs here. */
  clock?: Clock;
  signal?: AbortSignal;
  /** From `prepareAgentPipeline`, called before the model loads. */
  prepared?: PreparedPipeline;
  /** How a pipeline run in a worker comes back after a failure (RemotePipeline); none here. */
  recovery?: PipelineRecovery;
  /** The pipeline worker's heap keeper (src/service/heap-keeper.ts); none: V8's own schedule. */
  heapKeeper?: HeapKeeperOptions | undefined;
}

/**
 * A pipeline worker already loading its modules, and the host it offers the agent's sessions
 * (`WorkerModel.load`'s `host`: one isolate less); undefined when the pipeline will run here.
 */
export type PreparedPipeline = { worker: Worker; sessionHost: SessionHost } | undefined;

/** Starts the pipeline worker early, so its start-up overlaps the model's (cold start). */
export function prepareAgentPipeline(clock?: Clock): PreparedPipeline {
  if (!runsInWorker(clock)) return undefined;
  const worker = startPipelineWorker();
  return { worker, sessionHost: pipelineSessionHost(worker) };
}

const runsInWorker = (clock: Clock | undefined) => !clock || clock === systemClock;

export interface AgentPipeline {
  pipeline: RunningPipeline & {
    setModel(next: PipelineModel): Promise<void>;
    /** In the pipeline worker (RemotePipeline); undefined: probe in this thread. */
    probeExecutionProviders?(): Promise<ExecutionProvidersInfo | undefined>;
  };
  camera: { description(): string; onStateChange(listener: (change: CameraStateChange) => void): () => void };
}

/**
 * The agent's pipeline: in a worker thread (RemotePipeline: frames and raw outputs stay off the
 * main thread), or on this thread with an injected clock (a fake clock does not cross threads).
 */
export function createAgentPipeline(o: AgentPipelineOptions): AgentPipeline {
  if (runsInWorker(o.clock)) {
    const pipeline = new RemotePipeline({ ...o, ...(o.prepared ? { worker: o.prepared.worker } : {}) });
    return { pipeline, camera: pipeline.camera };
  }
  const source = createSource(o.camera, {
    ...(o.imageLimits ? { imageLimits: o.imageLimits } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    clock: o.clock,
    log: o.log.child({ component: 'camera' }),
  });
  const pipeline = new Pipeline({ ...o, source });
  return {
    pipeline,
    camera: { description: () => source.description, onStateChange: (l) => source.onStateChange(l) },
  };
}
