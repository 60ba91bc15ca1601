import type { FrameSource } from '../camera/types.js';
import { isAbortError } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { InferenceModel } from '../inference/model.js';
import type { InferenceResult } from '../inference/types.js';
import type { Logger } from '../log.js';

export interface FrameResult extends InferenceResult {
  seq: number;
  origin: string;
  capturedAtMs: number;
}

export interface PipelineDeps {
  source: FrameSource;
  model: () => InferenceModel;
  onResult: (result: FrameResult) => void;
  log: Logger;
}

export interface PipelineCounters {
  captured: number;
  processed: number;
  failed: number;
}

/**
 * Runs frames from the source through the current model until the signal fires or the source
 * ends. A failing frame is logged and counted, never fatal; the source failing ends the loop.
 */
export async function runPipeline(deps: PipelineDeps, signal: AbortSignal): Promise<PipelineCounters> {
  const counters: PipelineCounters = { captured: 0, processed: 0, failed: 0 };
  try {
    for await (const frame of deps.source) {
      if (signal.aborted) break;
      counters.captured++;
      try {
        const result = await deps.model().infer(frame);
        counters.processed++;
        deps.onResult({ ...result, seq: frame.seq, origin: frame.origin, capturedAtMs: frame.timestampMs });
      } catch (err) {
        counters.failed++;
        deps.log.warn({ seq: frame.seq, origin: frame.origin, err: errorMessage(err) }, 'frame failed');
      }
    }
  } catch (err) {
    if (!isAbortError(err)) throw err;
  }
  return counters;
}
