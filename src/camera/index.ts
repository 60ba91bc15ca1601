import type { Clock } from '../clock.js';
import { EdgeAgentError } from '../errors.js';
import type { Logger } from '../log.js';
import { imageFolderSource } from './images.js';
import type { FrameSource } from './types.js';

export type { Frame, FrameSource } from './types.js';

export interface SourceDeps {
  signal?: AbortSignal;
  clock?: Clock;
  log?: Logger;
}

/** Builds the frame source named by `camera.source` (paths already resolved by the config loader). */
export function createSource(source: string, fps: number, deps: SourceDeps = {}): FrameSource {
  if (source.startsWith('images:')) {
    return imageFolderSource({ dir: source.slice('images:'.length), fps, ...deps });
  }
  throw new EdgeAgentError(`camera.source "${source}" is not supported yet (supported: images:DIR)`);
}
