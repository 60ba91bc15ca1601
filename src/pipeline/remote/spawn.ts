import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EdgeAgentError } from '../../errors.js';
import { packageRoot } from '../../paths.js';
import type { PipelineWorkerData } from './protocol.js';

/** The bootstrap script and the module it imports: TypeScript next to this file, or dist/'s JavaScript. */
export function pipelineWorkerFiles(): { script: string; entry: string } {
  const here = fileURLToPath(import.meta.url);
  const dir = path.dirname(here);
  const ext = path.extname(here) === '.ts' ? '.ts' : '.js';
  const entry = pathToFileURL(path.join(dir, `worker-main${ext}`)).href;
  for (const script of [
    path.join(dir, 'boot.mjs'),
    path.join(packageRoot(), 'src', 'pipeline', 'remote', 'boot.mjs'),
  ]) {
    if (existsSync(script)) return { script, entry };
  }
  throw new EdgeAgentError(`pipeline worker script boot.mjs not found next to ${here}`);
}

/** It moves frames and small results; a small young generation keeps its heap (and RSS) small. */
export const PIPELINE_WORKER_LIMITS = { maxYoungGenerationSizeMb: 8 } as const;

/**
 * Starts a pipeline worker thread: it loads its modules (capture, preparation, decoding) and waits
 * for a RemotePipeline to tell it what to run — so that loading overlaps the model's.
 */
export function startPipelineWorker(): Worker {
  const { script, entry } = pipelineWorkerFiles();
  const workerData: PipelineWorkerData = { entry };
  const worker = new Worker(script, { workerData, resourceLimits: PIPELINE_WORKER_LIMITS });
  // A worker that dies before a RemotePipeline listens (while the model loads into it) must not be
  // an uncaught 'error' on the main thread: the loads waiting on it fail as its ports close, and
  // the RemotePipeline then sees its exit.
  worker.on('error', () => undefined);
  // Until its pipeline starts, an idle worker does not keep the process alive.
  worker.unref();
  return worker;
}
