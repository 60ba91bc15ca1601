import { type Clock, systemClock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import type { ImageLimits } from '../image/limits.js';
import type { Logger } from '../log.js';
import type { SpawnFn } from './capture-process.js';
import { type BackoffPolicy, DEFAULT_BACKOFF } from './health.js';
import { imageFolderSource } from './images.js';
import { SupervisedSource } from './supervised.js';
import { syntheticSource } from './synthetic.js';
import { findInPath, type ToolLookup } from './tools.js';
import type { FrameSource } from './types.js';
import { parseSource } from './uri.js';

export type {
  CameraState,
  CameraStateChange,
  CameraStatus,
  Frame,
  FrameSource,
  FrameTarget,
} from './types.js';

export interface SourceDeps {
  signal?: AbortSignal;
  clock?: Clock;
  log?: Logger;
  /** Finds capture tools; PATH by default. */
  lookup?: ToolLookup;
  spawn?: SpawnFn;
  /** What an image folder may decode (inference.maxInputPixels). */
  imageLimits?: ImageLimits;
}

/** Restart backoff of every source: camera.restartDelayS doubling up to restartMaxDelayS, with jitter. */
export function cameraBackoff(camera: CameraConfig): BackoffPolicy {
  return {
    ...DEFAULT_BACKOFF,
    initialMs: camera.restartDelayS * 1000,
    maxMs: camera.restartMaxDelayS * 1000,
  };
}

export type CameraConfig = AgentConfig['camera'];

const SYNTHETIC_DEFAULT = { width: 640, height: 480 };

/** Builds the frame source named by `camera.source` (paths already resolved by the config loader). */
export function createSource(camera: CameraConfig, deps: SourceDeps = {}): FrameSource {
  const spec = parseSource(camera.source);
  const clock = deps.clock ?? systemClock;
  const common = {
    clock,
    ...(deps.signal ? { signal: deps.signal } : {}),
    ...(deps.log ? { log: deps.log } : {}),
  };
  switch (spec.kind) {
    case 'images':
      return imageFolderSource({
        dir: spec.dir,
        fps: camera.fps,
        realtime: camera.realtime,
        loop: camera.loop,
        backoff: cameraBackoff(camera),
        ...(deps.imageLimits ? { imageLimits: deps.imageLimits } : {}),
        ...common,
      });
    case 'synthetic':
      return syntheticSource({
        width: camera.width ?? SYNTHETIC_DEFAULT.width,
        height: camera.height ?? SYNTHETIC_DEFAULT.height,
        fps: camera.fps,
        realtime: camera.realtime,
        ...common,
      });
    default:
      return new SupervisedSource(
        {
          source: camera.source,
          spec,
          capture: {
            fps: camera.fps,
            ...(camera.width && camera.height ? { width: camera.width, height: camera.height } : {}),
            inputFormat: camera.format,
            loop: camera.loop,
            realtime: camera.realtime,
            rtspTransport: camera.rtspTransport,
            networkTimeoutS: camera.networkTimeoutS,
            maxRedirects: camera.maxRedirects,
          },
          supervision: {
            stallTimeoutMs: camera.stallTimeoutS * 1000,
            startTimeoutMs: camera.startTimeoutS * 1000,
            offlineAfterMs: camera.offlineAfterS * 1000,
            backoff: cameraBackoff(camera),
            killTimeoutMs: 2000,
            stableAfterMs: 30_000,
          },
          acceptTargets: camera.scaleInCapture,
        },
        {
          ...common,
          lookup: deps.lookup ?? ((name) => findInPath(name)),
          ...(deps.spawn ? { spawn: deps.spawn } : {}),
        },
      );
  }
}
