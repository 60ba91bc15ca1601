import * as ort from 'onnxruntime-node';
import type { ModelInput } from '../../inference/preprocess.js';
import { DerivationError, throwIfAborted } from '../errors.js';
import { cloneModel, encodeModel, type ModelProto } from '../onnx/onnx-io.js';
import { sessionFor } from '../onnx/runtime.js';
import type { ProgressFn } from '../progress.js';
import { collectHistograms } from './calibrate.js';
import { applyQdq, groupRanges, planQdq, type QdqReport } from './qdq.js';
import { type ActivationHistogram, calibratedRange, type Range, type RangeMethod } from './ranges.js';

export interface StaticQuantParams {
  ranges: RangeMethod;
  /** Two-sided percentile kept by the `percentile` method, e.g. 99.999. */
  percentile: number;
  /** 7-bit weights (AVX2 without VNNI saturates with 8-bit weights). */
  reduceRange: boolean;
  /** uint8 asymmetric activations (U8S8, fast on x86/ARM CPUs) or int8 symmetric (S8S8). */
  activations?: 'uint8' | 'int8';
  /** Fidelity floor for the sensitivity fallback; none = no fallback. */
  floor?: number;
}

export interface StaticQuantContext {
  /** The float model: cleaned, nodes named, opset ≥ 13. Not modified. */
  model: ModelProto;
  inputName: string;
  calibration: readonly Pick<ModelInput, 'data' | 'dims'>[];
  /** Fidelity of candidate bytes against the reference (the scalar of FidelityReport). */
  evaluate: (bytes: Uint8Array) => Promise<number>;
  threads?: number;
  /** Bytes of one activation tensor (from a shape probe): calibration exposes them in groups by size. */
  tensorBytes?: (name: string) => number | undefined;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface SensitivityStep {
  keptFloat: number;
  fidelity: number;
}

export interface StaticQuantResult {
  model: ModelProto;
  bytes: Uint8Array;
  fidelity: number;
  report: Omit<QdqReport, 'dequantized'>;
  /** Compute nodes left in float by the sensitivity fallback, most sensitive first. */
  keptFloat: string[];
  /** Each fidelity measured by the fallback search. */
  steps: SensitivityStep[];
  /** Per-node output noise when quantized alone (relative power), most sensitive first; only when the fallback ran. */
  sensitivity?: Array<{ node: string; addedNoise: number }>;
}

/**
 * int8 static quantization in QDQ form (U8S8: uint8 activations, int8 per-channel weights), with
 * the measured sensitivity fallback: when the floor is missed, the compute nodes that add the most
 * quantization noise are kept in float, in growing numbers, until the floor is met.
 */
export async function quantizeStatic(
  ctx: StaticQuantContext,
  params: StaticQuantParams,
): Promise<StaticQuantResult> {
  const fullPlan = planQdq(ctx.model);
  if (fullPlan.computeNodes.length === 0) {
    throw new DerivationError(
      'int8-static: the model has no Conv, Gemm or MatMul with float weights to quantize',
    );
  }
  // Plans that keep layers in float may quantize a Conv output a Relu used to absorb: calibrate those too.
  const computeOutputs = (ctx.model.graph!.node ?? [])
    .filter((n) => fullPlan.computeNodes.includes(n.name ?? ''))
    .map((n) => n.output?.[0] ?? '')
    .filter((t) => t && !fullPlan.tensors.includes(t));
  const histograms = await collectHistograms(
    ctx.model,
    [...fullPlan.tensors, ...computeOutputs],
    ctx.calibration,
    {
      inputName: ctx.inputName,
      threads: ctx.threads,
      ...(ctx.tensorBytes ? { tensorBytes: ctx.tensorBytes } : {}),
      signal: ctx.signal,
      onProgress: ctx.onProgress,
    },
  );
  const ranges = rangesOf(histograms, params);
  const build = (keep: readonly string[]) => {
    const model = cloneModel(ctx.model);
    const plan = planQdq(model, new Set(keep));
    const report = applyQdq(model, plan, groupRanges(plan, ranges, params.activations), {
      reduceRange: params.reduceRange,
    });
    return { model, bytes: encodeModel(model), report };
  };
  let first: ReturnType<typeof build> | undefined = build([]);
  const fidelity = await ctx.evaluate(first.bytes);
  const steps: SensitivityStep[] = [{ keptFloat: 0, fidelity }];
  const strip = ({ dequantized: _, ...rest }: QdqReport) => rest;
  if (params.floor === undefined || fidelity >= params.floor) {
    return {
      model: first.model,
      bytes: first.bytes,
      fidelity,
      report: strip(first.report),
      keptFloat: [],
      steps,
    };
  }
  first = undefined; // the search builds its own: hold one candidate graph at a time
  const floor = params.floor;

  const sensitivity = await measureSensitivity(ctx, fullPlan.computeNodes, build);
  const order = sensitivity.map((s) => s.node);
  // Fidelity of every attempt; the built model only of the smallest hit so far (the search's answer).
  const tried = new Map<number, { fidelity: number }>();
  let best: { k: number; fidelity: number; built: ReturnType<typeof build> } | undefined;
  const attempt = async (k: number) => {
    const known = tried.get(k);
    if (known) return known;
    throwIfAborted(ctx.signal, 'sensitivity search');
    const built = build(order.slice(0, k));
    const f = await ctx.evaluate(built.bytes);
    steps.push({ keptFloat: k, fidelity: f });
    ctx.onProgress?.({
      stage: 'sensitivity',
      done: steps.length,
      total: steps.length + 1,
      message: `${k} float: ${f.toFixed(3)}`,
    });
    const entry = { fidelity: f };
    tried.set(k, entry);
    if (f >= floor && (!best || k < best.k)) best = { k, fidelity: f, built };
    return entry;
  };
  // Doubling, then bisection between the last miss and the first hit.
  let miss = 0;
  let hit = -1;
  for (let k = 1; ; k = Math.min(order.length, k * 2)) {
    if ((await attempt(k)).fidelity >= params.floor) {
      hit = k;
      break;
    }
    miss = k;
    if (k === order.length) break;
  }
  if (hit < 0) {
    const top = Math.max(...steps.map((s) => s.fidelity));
    throw new DerivationError(
      `int8-static: fidelity floor ${params.floor} cannot be met (best ${top.toFixed(3)}, even with all ${order.length} compute layers in float); ` +
        'lower the floor or use another method',
    );
  }
  while (hit - miss > 1) {
    const mid = Math.floor((hit + miss) / 2);
    if ((await attempt(mid)).fidelity >= params.floor) hit = mid;
    else miss = mid;
  }
  const chosen = best!; // hit ≥ 0: the attempt at `hit` met the floor
  return {
    model: chosen.built.model,
    bytes: chosen.built.bytes,
    fidelity: chosen.fidelity,
    report: strip(chosen.built.report),
    keptFloat: order.slice(0, hit),
    steps,
    sensitivity,
  };
}

function rangesOf(
  histograms: ReadonlyMap<string, ActivationHistogram>,
  params: StaticQuantParams,
): Map<string, Range> {
  return new Map(
    [...histograms].map(([name, h]) => [name, calibratedRange(h, params.ranges, params.percentile)]),
  );
}

/**
 * Measured sensitivity of each compute node: the relative noise power at the model outputs when
 * only that node (with the activations feeding it) is quantized and everything else stays float.
 * Isolating one layer at a time ranks layers by what they do to the result, not by a local proxy.
 */
async function measureSensitivity(
  ctx: StaticQuantContext,
  computeNodes: readonly string[],
  build: (keep: readonly string[]) => { bytes: Uint8Array },
): Promise<Array<{ node: string; addedNoise: number }>> {
  const frames = ctx.calibration.slice(0, SENSITIVITY_FRAMES);
  const feeds = frames.map((input) => ({
    [ctx.inputName]: new ort.Tensor(
      input.data instanceof Float32Array ? 'float32' : 'uint8',
      input.data,
      input.dims,
    ),
  }));
  const reference = await runAll(encodeModel(ctx.model), feeds, ctx.threads);
  const result: Array<{ node: string; addedNoise: number }> = [];
  for (const [i, node] of computeNodes.entries()) {
    throwIfAborted(ctx.signal, 'sensitivity measurement');
    const keep = computeNodes.filter((n) => n !== node);
    const outputs = await runAll(build(keep).bytes, feeds, ctx.threads);
    let err = 0;
    let power = 0;
    for (let f = 0; f < outputs.length; f++) {
      const a = reference[f]!;
      const b = outputs[f]!;
      for (let j = 0; j < a.length; j++) {
        const d = b[j]! - a[j]!;
        err += d * d;
        power += a[j]! * a[j]!;
      }
    }
    result.push({ node, addedNoise: power > 0 ? err / power : 0 });
    ctx.onProgress?.({
      stage: 'sensitivity',
      done: i + 1,
      total: computeNodes.length,
      message: 'measuring layers',
    });
  }
  return result.sort((a, b) => b.addedNoise - a.addedNoise || a.node.localeCompare(b.node));
}

const SENSITIVITY_FRAMES = 4;

/** All outputs of each frame, concatenated in output-name order. */
async function runAll(
  bytes: Uint8Array,
  feeds: Array<Record<string, ort.Tensor>>,
  threads?: number,
): Promise<Float32Array[]> {
  const session = await sessionFor(bytes, { threads });
  try {
    const names = [...session.outputNames].sort();
    const out: Float32Array[] = [];
    for (const feed of feeds) {
      const r = await session.run(feed);
      const parts = names.map((n) => r[n]!.data as Float32Array);
      const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let o = 0;
      for (const p of parts) {
        all.set(p, o);
        o += p.length;
      }
      out.push(all);
    }
    return out;
  } finally {
    await session.release();
  }
}
