import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import type { Catalog } from '../models/catalog.js';
import { writeDerivedVariant } from '../models/derived-store.js';
import { readVerified } from '../models/integrity.js';
import { effectiveInputSpec, type InputOverride, type Variant } from '../models/manifest.js';
import { DerivationError, throwIfAborted } from './errors.js';
import { Evaluator } from './evaluation/evaluation.js';
import type { FidelityReport } from './evaluation/fidelity.js';
import type { FrameSource } from './evaluation/frames.js';
import {
  type AnyParams,
  type Method,
  methodFor,
  normalizeParams,
  parseMethod,
  variantIdFor,
} from './methods/index.js';
import { inspectModel, type ModelInspection } from './onnx/inspect.js';
import { cloneModel, decodeModel, encodeModel, type ModelProto } from './onnx/onnx-io.js';
import { probeTensors, sessionFor } from './onnx/runtime.js';
import {
  checkDerivationMemory,
  estimateDerivationMB,
  MemoryWatch,
  readMemAvailableMB,
} from './process/memory-guard.js';
import type { ProgressFn } from './progress.js';
import { ensureNodeNames } from './quantize/qdq.js';
import { cleanModel } from './transforms/clean.js';

export interface DeriveOptions {
  /** Source variant id; the manifest's default when absent. */
  source?: string;
  /** Variant id of the result; `<source>_<tag>` when absent. */
  id?: string;
  /** Calibration frames (int8-static): a folder, frames in memory, or the bundled samples. */
  calibration?: FrameSource;
  /** Frames for fidelity; the calibration frames when absent. */
  evaluation?: FrameSource;
  /** At most this many evaluation frames (default 32). */
  evaluationLimit?: number;
  /** Data directory to write into (`<dataDir>/models/<model>/`); the catalog's when absent. */
  dataDir?: string;
  /** Compute and report but write nothing. */
  dryRun?: boolean;
  threads?: number;
  /**
   * Resident memory this process may reach (MB): refused up front when the estimate is above it,
   * stopped when it is passed. The device's MemAvailable is checked either way.
   */
  maxMemoryMB?: number;
  /** MemAvailable in MB (default: read from /proc/meminfo; undefined where there is none). */
  memAvailableMB?: () => number | undefined;
  signal?: AbortSignal;
  onProgress?: ProgressFn;
}

export interface ModelFigures {
  bytes: number;
  parameterCount: number;
  nonZeroParameters: number;
  flops: number | undefined;
}

export interface DerivedVariant {
  model: string;
  method: Method;
  params: AnyParams;
  /** The manifest entry as written. */
  variant: Variant;
  /** Where the ONNX file was written (undefined on a dry run). */
  path: string | undefined;
  bytes: Uint8Array;
  source: { id: string; sha256: string } & ModelFigures;
  result: ModelFigures & { inspection: ModelInspection };
  fidelity: FidelityReport;
  /** Op histogram of the graph onnxruntime actually runs (after its fusions): which kernels it chose. */
  kernels: Record<string, number>;
  /** Method-specific report (layers kept in float, channels removed, ...). */
  details: Record<string, unknown>;
  derivationMs: number;
}

/**
 * Derives a variant of a model on this device: reads and verifies the source variant, applies
 * `clean` and then the method, checks onnxruntime loads the result, measures its fidelity against
 * the reference variant, and writes it with its manifest entry into the data directory. Refuses
 * up front when the device (or `maxMemoryMB`) cannot afford it, and stops when it passes `maxMemoryMB`.
 */
export async function derive(
  catalog: Catalog,
  modelName: string,
  method: Method,
  rawParams: Record<string, unknown> = {},
  options: DeriveOptions = {},
): Promise<DerivedVariant> {
  parseMethod(method);
  const { model: entry, variant: source } = catalog.variant(modelName, options.source);
  const spec = effectiveInputSpec(entry.manifest.input, source);
  const estimatedMB = estimateDerivationMB({
    method,
    modelBytes: source.bytes,
    inputBytes: 4 * 3 * spec.width * spec.height,
    baselineMB: process.memoryUsage.rss() / 2 ** 20,
  });
  checkDerivationMemory(`${modelName}/${source.id} ${method}`, estimatedMB, {
    ...(options.maxMemoryMB !== undefined ? { maxMemoryMB: options.maxMemoryMB } : {}),
    availableMB: (options.memAvailableMB ?? readMemAvailableMB)(),
  });
  if (options.maxMemoryMB === undefined)
    return deriveUnguarded(catalog, modelName, method, rawParams, options);
  const stop = new AbortController();
  const watch = new MemoryWatch(options.maxMemoryMB, stop);
  watch.start();
  try {
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    return await deriveUnguarded(catalog, modelName, method, rawParams, { ...options, signal });
  } catch (err) {
    // Whatever failed once the limit was passed failed because of it.
    if (stop.signal.aborted) throw stop.signal.reason;
    throw err;
  } finally {
    watch.stop();
  }
}

async function deriveUnguarded(
  catalog: Catalog,
  modelName: string,
  method: Method,
  rawParams: Record<string, unknown>,
  options: DeriveOptions,
): Promise<DerivedVariant> {
  const started = performance.now();
  parseMethod(method); // callers from JavaScript or MQTT may pass any string
  const params = normalizeParams(method, rawParams);
  const { model: entry, variant: source } = catalog.variant(modelName, options.source);
  const id = options.id ?? variantIdFor(source.id, method, params);
  const sourceBytes = await readVerified(source.path, source.sha256, source.bytes);
  const sourceModel = decodeModel(sourceBytes, source.path);
  const sourceSpec = effectiveInputSpec(entry.manifest.input, source);
  const progress = options.onProgress;
  progress?.({ stage: 'derive', done: 0, total: 1, message: `${modelName}/${source.id} → ${id}` });

  const referenceId = source.reference ?? source.id;
  const { variant: reference } = catalog.variant(modelName, referenceId);
  const evaluator = await Evaluator.create(entry, reference, {
    frames: options.evaluation ?? options.calibration,
    limit: options.evaluationLimit,
    threads: options.threads,
    signal: options.signal,
    onProgress: progress,
  });

  const work = cloneModel(sourceModel);
  const cleaned = cleanModel(work);
  ensureNodeNames(work);
  throwIfAborted(options.signal, 'derive');

  const outcome = await methodFor(method).apply(work, params, {
    sourceSpec,
    sourceInput: source.input,
    evaluator,
    calibration: options.calibration,
    evaluation: options.evaluation,
    evaluationLimit: options.evaluationLimit,
    threads: options.threads,
    signal: options.signal,
    onProgress: progress,
  });
  const model: ModelProto = outcome.model ?? work;
  const precision: Variant['precision'] = outcome.precision ?? source.precision;
  const details: Record<string, unknown> = { clean: cleaned, ...outcome.details };
  const recordedParams: Record<string, unknown> = outcome.recordedParams ?? { ...params };
  const inputOverride: InputOverride | undefined = outcome.input ?? source.input;
  const spec = outcome.input
    ? effectiveInputSpec(entry.manifest.input, { input: outcome.input })
    : sourceSpec;

  const bytes = encodeModel(model);
  const kernels = await optimizedKernels(bytes, options.threads);
  const fidelity = await evaluator.evaluate(bytes, spec);
  const sourceInspection = inspectModel(sourceModel, (await probeTensors(sourceModel)).shapes);
  const inspection = inspectModel(model, (await probeTensors(model)).shapes);
  const derivationMs = Math.round(performance.now() - started);

  const variant: Omit<Variant, 'file' | 'sha256' | 'bytes'> = {
    id,
    precision,
    origin: {
      kind: 'derived',
      method,
      params: recordedParams,
      sourceVariant: source.id,
      sourceSha256: source.sha256,
      derivationMs,
    },
    reference: reference.id,
    quality: {
      fidelity: clamp01(fidelity.fidelity),
      metric: `${fidelity.metric} vs ${reference.id}`,
      frames: fidelity.frames,
      ...(fidelity.accuracy ? { accuracy: clamp01(fidelity.accuracy.variant) } : {}),
    },
    ...(inputOverride ? { input: inputOverride } : {}),
    parameterCount: inspection.parameterCount,
    ...(inspection.flops !== undefined ? { flops: inspection.flops } : {}),
  };
  let written: { variant: Variant; path: string } | undefined;
  if (!options.dryRun) {
    const root = options.dataDir ? path.join(options.dataDir, 'models') : catalog.derivedRoot;
    if (!root)
      throw new DerivationError(
        'no data directory to write the derived variant into; set dataDir or pass --out',
      );
    progress?.({ stage: 'write', done: 0, total: 1 });
    written = await writeDerivedVariant({
      root,
      modelName,
      bundledDir: entry.dir,
      shippedIds: entry.variants.filter((v) => !v.derived).map((v) => v.id),
      variant,
      bytes,
    });
    progress?.({ stage: 'write', done: 1, total: 1 });
  }
  return {
    model: modelName,
    method,
    params,
    variant: written?.variant ?? { ...variant, file: `${id}.onnx`, sha256: '', bytes: bytes.length },
    path: written?.path,
    bytes,
    source: { id: source.id, sha256: source.sha256, ...figures(sourceBytes.length, sourceInspection) },
    result: { ...figures(bytes.length, inspection), inspection },
    fidelity,
    kernels,
    details,
    derivationMs,
  };
}

const clamp01 = (v: number) => Math.min(1, Math.max(0, v));

function figures(bytes: number, i: ModelInspection): ModelFigures {
  return { bytes, parameterCount: i.parameterCount, nonZeroParameters: i.nonZeroParameters, flops: i.flops };
}

/**
 * Opens the model in onnxruntime (proving it loads) with the optimised graph written out, and
 * returns that graph's op histogram: QLinearConv vs DequantizeLinear+Conv tells what really runs.
 */
export async function optimizedKernels(bytes: Uint8Array, threads?: number): Promise<Record<string, number>> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'edge-agent-ort-'));
  const file = path.join(dir, 'optimized.onnx');
  try {
    let session: Awaited<ReturnType<typeof sessionFor>>;
    try {
      session = await sessionFor(bytes, { threads, optimizedModelFilePath: file });
    } catch (err) {
      throw new DerivationError(`onnxruntime cannot load the derived model: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    await session.release();
    const optimized = decodeModel(await readFile(file), 'optimized model');
    const ops: Record<string, number> = {};
    for (const n of optimized.graph!.node ?? []) ops[n.opType ?? ''] = (ops[n.opType ?? ''] ?? 0) + 1;
    return Object.fromEntries(Object.entries(ops).sort(([a], [b]) => a.localeCompare(b)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
