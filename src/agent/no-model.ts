import { ModelLoadError } from '../errors.js';
import type { InferenceResult } from '../inference/types.js';
import { manifestSchemas } from '../models/manifest.js';
import type { PipelineModel } from '../pipeline/types.js';

/**
 * The agent with no loadable model (an empty or missing `models.dir`, every model corrupt): it
 * starts degraded instead of exiting — HTTP and MQTT serve, the fault says why, inference is off —
 * and the pipeline is built around this stand-in until a real model loads (the catalogue retried
 * on a backoff, `set-model`, a deployed model). It never runs: the pipeline is not started with
 * it, and an upload to `POST /api/infer` gets a 503 from `NoModelError`.
 */
export const NO_MODEL_NAME = '(none)';

/** Inference was asked for while no model is loaded (HTTP 503). */
export class NoModelError extends ModelLoadError {
  override name = 'NoModelError';
  /** Service Unavailable: the HTTP error handler answers with it. */
  readonly statusCode = 503;
}

export function isNoModel(model: { name: string } | undefined): boolean {
  return model?.name === NO_MODEL_NAME;
}

export function noModel(reason: () => string): PipelineModel {
  const refuse = (): never => {
    throw new NoModelError(`no model is loaded: ${reason()}`);
  };
  return {
    name: NO_MODEL_NAME,
    variant: { id: NO_MODEL_NAME },
    task: 'classification',
    input: manifestSchemas().inputSpecSchema.parse({
      name: 'none',
      width: 1,
      height: 1,
      colorOrder: 'RGB',
      resize: { mode: 'stretch' },
    }),
    decoder: manifestSchemas().decoderSchema.parse({ type: 'softmax', output: 'none' }),
    labels: [],
    executionProvider: undefined,
    run: async () => refuse(),
    inferEncoded: async (): Promise<InferenceResult> => refuse(),
    dispose: async () => undefined,
  };
}
