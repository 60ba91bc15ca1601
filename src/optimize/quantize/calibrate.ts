import * as ort from 'onnxruntime-node';
import type { ModelInput } from '../../inference/preprocess.js';
import { throwIfAborted } from '../errors.js';
import type { ModelProto } from '../onnx/onnx-io.js';
import { EXPOSED_BYTES_BUDGET, encodeWithExtraOutputs, groupByBytes, sessionFor } from '../onnx/runtime.js';
import type { ProgressFn } from '../progress.js';
import { ActivationHistogram } from './ranges.js';

export interface CalibrationOptions {
  inputName: string;
  bins?: number;
  threads?: number;
  /** Bytes of one tensor (from a shape probe), to group the exposed tensors; unknown: groups by count. */
  tensorBytes?: (name: string) => number | undefined;
  /** Bytes of exposed tensors one session may hold at once. */
  budgetBytes?: number;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

/**
 * Runs the float model over the calibration inputs with the named tensors exposed and collects a
 * histogram per tensor. The tensors are exposed a group at a time (about `budgetBytes` of outputs
 * per session, one session alive at a time), each group seeing every frame in order: each
 * histogram gets the same values in the same order, so the result is deterministic for the same
 * frames and does not depend on the grouping.
 */
export async function collectHistograms(
  model: ModelProto,
  tensors: readonly string[],
  inputs: readonly Pick<ModelInput, 'data' | 'dims'>[],
  options: CalibrationOptions,
): Promise<Map<string, ActivationHistogram>> {
  const histograms = new Map<string, ActivationHistogram>();
  for (const t of tensors) histograms.set(t, new ActivationHistogram(options.bins));
  const inputHistogram = histograms.get(options.inputName);
  if (inputHistogram) for (const input of inputs) inputHistogram.add(input.data);
  const exposed = tensors.filter((t) => t !== options.inputName);
  const budget = options.budgetBytes ?? EXPOSED_BYTES_BUDGET;
  const groups = groupByBytes(exposed, options.tensorBytes ?? (() => undefined), budget);
  const total = groups.length * inputs.length;
  let done = 0;
  for (const group of groups) {
    const session = await sessionFor(encodeWithExtraOutputs(model, group), {
      threads: options.threads,
      graphOptimization: 'basic',
      memoryArena: false,
    });
    try {
      for (const input of inputs) {
        throwIfAborted(options.signal, 'calibration');
        const tensor = new ort.Tensor(
          input.data instanceof Float32Array ? 'float32' : 'uint8',
          input.data,
          input.dims,
        );
        const results = await session.run({ [options.inputName]: tensor }, group);
        for (const name of group) {
          const value = results[name];
          if (value?.type === 'float32') histograms.get(name)!.add(value.data as Float32Array);
          value?.dispose();
        }
        options.onProgress?.({ stage: 'calibrate', done: ++done, total });
      }
    } finally {
      await session.release();
    }
  }
  return histograms;
}
