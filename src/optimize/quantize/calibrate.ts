import * as ort from 'onnxruntime-node';
import type { ModelInput } from '../../inference/preprocess.js';
import { throwIfAborted } from '../errors.js';
import type { ModelProto } from '../onnx/onnx-io.js';
import { encodeModel } from '../onnx/onnx-io.js';
import { sessionFor, withExtraOutputs } from '../onnx/runtime.js';
import type { ProgressFn } from '../progress.js';
import { ActivationHistogram } from './ranges.js';

export interface CalibrationOptions {
  inputName: string;
  bins?: number;
  threads?: number;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

/**
 * Runs the float model over the calibration inputs with the named tensors exposed and collects a
 * histogram per tensor. One session, frames in order: deterministic for the same frames.
 */
export async function collectHistograms(
  model: ModelProto,
  tensors: readonly string[],
  inputs: readonly Pick<ModelInput, 'data' | 'dims'>[],
  options: CalibrationOptions,
): Promise<Map<string, ActivationHistogram>> {
  const histograms = new Map<string, ActivationHistogram>();
  for (const t of tensors) histograms.set(t, new ActivationHistogram(options.bins));
  const exposed = tensors.filter((t) => t !== options.inputName);
  const session = await sessionFor(encodeModel(withExtraOutputs(model, exposed)), {
    threads: options.threads,
    graphOptimization: 'basic',
  });
  try {
    for (const [i, input] of inputs.entries()) {
      throwIfAborted(options.signal, 'calibration');
      const tensor = new ort.Tensor(
        input.data instanceof Float32Array ? 'float32' : 'uint8',
        input.data,
        input.dims,
      );
      const results = await session.run({ [options.inputName]: tensor }, exposed);
      histograms.get(options.inputName)?.add(input.data);
      for (const name of exposed) {
        const value = results[name];
        if (value?.type === 'float32') histograms.get(name)!.add(value.data as Float32Array);
        value?.dispose();
      }
      options.onProgress?.({ stage: 'calibrate', done: i + 1, total: inputs.length });
    }
  } finally {
    await session.release();
  }
  return histograms;
}
