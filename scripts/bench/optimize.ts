/**
 * Optimisation figures: for each model and each derivation method, file size, parameters, FLOPs,
 * fidelity against the fp32 source and latency (median, p95) with 1 and 2 threads — measured in
 * one run, variants alternating round by round so the machine's drift hits all of them alike, one
 * session at a time. `npm run bench:optimize [-- --models yolox-nano --rounds 5 --iterations 10]`
 * writes bench/optimize.json and bench/optimize.md.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { errorMessage } from '../../src/errors.js';
import { decodeImage } from '../../src/image/decode.js';
import type { RawImage } from '../../src/image/types.js';
import { preprocess } from '../../src/inference/preprocess.js';
import { onnxruntimeVersion, openSession } from '../../src/inference/session.js';
import { loadCatalog } from '../../src/models/catalog.js';
import { readVerified } from '../../src/models/integrity.js';
import { effectiveInputSpec, type InputSpec } from '../../src/models/manifest.js';
import { derive } from '../../src/optimize/derive.js';
import type { Method } from '../../src/optimize/methods/index.js';
import { inspectModel } from '../../src/optimize/onnx/inspect.js';
import { decodeModel } from '../../src/optimize/onnx/onnx-io.js';
import { probeShapes } from '../../src/optimize/onnx/runtime.js';
import { percentileOf } from '../../src/telemetry/percentiles.js';

export interface BenchOptimizeOptions {
  models?: Array<{ name: string; source: string }>;
  /** Alternating rounds per thread count; each round runs every variant `iterations` times. */
  rounds?: number;
  iterations?: number;
  threads?: number[];
  /** Folders of calibration / evaluation photographs (default: the 24 shared test photographs). */
  frameDirs?: string[];
  log?: (line: string) => void;
}

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEFAULT_MODELS = [
  { name: 'yolox-nano', source: 'fp32' },
  { name: 'squeezenet1.1', source: 'fp32' },
  { name: 'ultraface', source: 'rfb-320' },
];
const DEFAULT_FRAMES = ['coco_val2017', 'voc', 'skimage'].map((d) =>
  path.join(ROOT, 'test/fixtures/images', d),
);

/** The methods measured, with the parameters that make each figure. */
const PLAN: Array<{ method: Method; params: Record<string, unknown>; label: string }> = [
  { method: 'clean', params: {}, label: 'clean' },
  { method: 'int8-static', params: { floor: 'none' }, label: 'int8-static U8S8 7-bit, all layers' },
  { method: 'int8-static', params: { floor: 0.9 }, label: 'int8-static U8S8 + fallback to 0.90' },
  {
    method: 'int8-static',
    params: { floor: 'none', reduceRange: false },
    label: 'int8-static U8S8 8-bit weights',
  },
  { method: 'int8-static', params: { floor: 'none', activations: 'int8' }, label: 'int8-static S8S8' },
  {
    method: 'int8-static',
    params: { floor: 'none', ranges: 'minmax' },
    label: 'int8-static U8S8 minmax ranges',
  },
  { method: 'int8-weights', params: {}, label: 'int8-weights' },
  { method: 'fp16', params: {}, label: 'fp16' },
  { method: 'prune', params: { mode: 'unstructured', sparsity: 0.3 }, label: 'prune unstructured 30%' },
  { method: 'prune', params: { mode: 'structured', sparsity: 0.1 }, label: 'prune structured 10%' },
  { method: 'lowrank', params: { energy: 0.9 }, label: 'lowrank energy 0.90' },
  { method: 'input-uint8', params: {}, label: 'input-uint8' },
];

interface Row {
  model: string;
  variant: string;
  label: string;
  bytes: number;
  parameterCount: number;
  nonZeroParameters: number;
  flops: number | undefined;
  fidelity: number;
  metric: string;
  detail: string;
  kernels: Record<string, number>;
  derivationMs: number;
  latency: Record<string, { medianMs: number; p95Ms: number; samples: number }>;
  error?: string;
}

async function loadFrames(dirs: string[]): Promise<{ images: RawImage[]; names: string[] }> {
  const images: RawImage[] = [];
  const names: string[] = [];
  for (const dir of dirs) {
    for (const f of readdirSync(dir)
      .filter((n) => /\.(jpe?g|png)$/i.test(n))
      .sort()) {
      images.push(await decodeImage(path.join(dir, f)));
      names.push(`${path.basename(dir)}/${f}`);
    }
  }
  return { images, names };
}

export async function benchOptimize(
  opts: BenchOptimizeOptions = {},
): Promise<{ json: unknown; markdown: string }> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rounds = opts.rounds ?? 5;
  const iterations = opts.iterations ?? 10;
  const threadCounts = opts.threads ?? [1, 2];
  const frames = await loadFrames(opts.frameDirs ?? DEFAULT_FRAMES);
  const dataDir = path.join(os.tmpdir(), `edge-agent-bench-${process.pid}`);
  const catalog = await loadCatalog({ modelsDir: path.join(ROOT, 'models'), dataDir });
  const results: Row[] = [];
  for (const { name, source } of opts.models ?? DEFAULT_MODELS) {
    const { model: entry, variant: src } = catalog.variant(name, source);
    const srcBytes = await readVerified(src.path, src.sha256, src.bytes);
    const srcModel = decodeModel(srcBytes);
    const info = inspectModel(srcModel, await probeShapes(srcModel));
    const candidates: Array<{ row: Row; bytes: Uint8Array; spec: InputSpec }> = [
      {
        row: {
          model: name,
          variant: src.id,
          label: `${src.id} (shipped)`,
          bytes: srcBytes.length,
          parameterCount: info.parameterCount,
          nonZeroParameters: info.nonZeroParameters,
          flops: info.flops,
          fidelity: 1,
          metric: 'reference',
          detail: '',
          kernels: {},
          derivationMs: 0,
          latency: {},
        },
        bytes: srcBytes,
        spec: effectiveInputSpec(entry.manifest.input, src),
      },
    ];
    for (const step of PLAN) {
      log(`${name}: deriving ${step.label}`);
      try {
        const r = await derive(catalog, name, step.method, step.params, {
          source: src.id,
          calibration: frames,
          dryRun: true,
          threads: 2,
        });
        const kept = Array.isArray(r.details.keptFloat)
          ? (r.details.keptFloat as string[]).length
          : undefined;
        const detail = [
          kept !== undefined && step.params.floor !== 'none' ? `${kept} layers float` : '',
          r.fidelity.detection
            ? `P ${r.fidelity.detection.precision.toFixed(2)} R ${r.fidelity.detection.recall.toFixed(2)}`
            : '',
          r.fidelity.classification ? `top-5 ${r.fidelity.classification.top5Overlap.toFixed(2)}` : '',
          `max|Δ| ${r.fidelity.output.maxAbsDiff.toExponential(1)}`,
        ]
          .filter(Boolean)
          .join(', ');
        candidates.push({
          row: {
            model: name,
            variant: r.variant.id,
            label: step.label,
            bytes: r.bytes.length,
            parameterCount: r.result.parameterCount,
            nonZeroParameters: r.result.nonZeroParameters,
            flops: r.result.flops,
            fidelity: r.fidelity.fidelity,
            metric: r.fidelity.metric,
            detail,
            kernels: r.kernels,
            derivationMs: r.derivationMs,
            latency: {},
          },
          bytes: r.bytes,
          spec: effectiveInputSpec(entry.manifest.input, r.variant),
        });
      } catch (err) {
        log(`${name}: ${step.label} failed: ${errorMessage(err)}`);
        results.push({
          model: name,
          variant: '-',
          label: step.label,
          bytes: 0,
          parameterCount: 0,
          nonZeroParameters: 0,
          flops: undefined,
          fidelity: 0,
          metric: '',
          detail: '',
          kernels: {},
          derivationMs: 0,
          latency: {},
          error: errorMessage(err),
        });
      }
    }
    // Latency: one session at a time, variants alternating within each round.
    const inputs = new Map<Row, ort.Tensor>();
    for (const c of candidates) {
      const p = await preprocess(frames.images[0]!, c.spec);
      inputs.set(c.row, new ort.Tensor(p.data instanceof Float32Array ? 'float32' : 'uint8', p.data, p.dims));
    }
    for (const threads of threadCounts) {
      const samples = new Map<Row, number[]>(candidates.map((c) => [c.row, []]));
      for (let round = 0; round < rounds; round++) {
        log(`${name}: latency with ${threads} thread(s), round ${round + 1}/${rounds}`);
        for (const c of candidates) {
          const { session } = await openSession(c.bytes, { threads, executionProviders: ['cpu'] });
          try {
            const feed = { [c.spec.name]: inputs.get(c.row)! };
            for (let w = 0; w < 2; w++) await session.run(feed);
            for (let i = 0; i < iterations; i++) {
              const t0 = performance.now();
              await session.run(feed);
              samples.get(c.row)!.push(performance.now() - t0);
            }
          } finally {
            await session.release();
          }
        }
      }
      for (const [row, s] of samples) {
        row.latency[`${threads}t`] = {
          medianMs: percentileOf(s, 50),
          p95Ms: percentileOf(s, 95),
          samples: s.length,
        };
      }
    }
    results.push(...candidates.map((c) => c.row));
  }
  const json = {
    machine: { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, node: process.version },
    onnxruntime: onnxruntimeVersion(),
    frames: frames.names.length,
    rounds,
    iterations,
    results,
  };
  return { json, markdown: toMarkdown(results, threadCounts, json.machine, frames.names.length) };
}

function toMarkdown(
  rows: Row[],
  threads: number[],
  machine: { cpu: string; cores: number },
  frames: number,
): string {
  const f = (v: number, d = 2) => v.toFixed(d);
  const lines = [
    `Optimisation figures on ${machine.cpu} (${machine.cores} cores); fidelity on ${frames} photographs vs the fp32 source`,
    "(top-1 agreement for classification, mAP@0.5 against the source's detections for detection). Latency: median / p95 ms",
    'of session.run, variants alternated round by round, one session at a time.',
    '',
  ];
  for (const model of [...new Set(rows.map((r) => r.model))]) {
    const group = rows.filter((r) => r.model === model);
    const base = group.find((r) => r.metric === 'reference');
    lines.push(`### ${model}`, '');
    lines.push(
      `| variant | method | size MB | params | GFLOPs | fidelity | ${threads.map((t) => `${t} thread${t > 1 ? 's' : ''} p50/p95`).join(' | ')} | speed vs fp32 (${threads.at(-1)}t) | notes |`,
    );
    lines.push(`|${' --- |'.repeat(8 + threads.length)}`);
    for (const r of group) {
      if (r.error) {
        lines.push(
          `| - | ${r.label} | | | | | ${threads.map(() => '').join(' | ')} | | ${r.error.replace(/\|/g, '/')} |`,
        );
        continue;
      }
      const last = `${threads.at(-1)}t`;
      const speed =
        base && r.latency[last] ? base.latency[last]!.medianMs / r.latency[last]!.medianMs : undefined;
      const params =
        r.nonZeroParameters < r.parameterCount
          ? `${r.parameterCount} (${r.nonZeroParameters} ≠0)`
          : `${r.parameterCount}`;
      lines.push(
        `| ${r.variant} | ${r.label} | ${f(r.bytes / 1e6)} | ${params} | ${r.flops === undefined ? '?' : f(r.flops / 1e9, 3)} | ` +
          `${f(r.fidelity, 3)} | ${threads.map((t) => (r.latency[`${t}t`] ? `${f(r.latency[`${t}t`]!.medianMs)} / ${f(r.latency[`${t}t`]!.p95Ms)}` : '')).join(' | ')} | ` +
          `${speed === undefined ? '' : `${f(speed)}×`} | ${r.detail} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      models: { type: 'string' },
      rounds: { type: 'string' },
      iterations: { type: 'string' },
      out: { type: 'string', default: path.join(ROOT, 'bench') },
    },
  });
  const models = values.models
    ? values.models
        .split(',')
        .map((n) => DEFAULT_MODELS.find((m) => m.name === n) ?? { name: n, source: 'fp32' })
    : undefined;
  const { json, markdown } = await benchOptimize({
    models,
    rounds: values.rounds ? Number(values.rounds) : undefined,
    iterations: values.iterations ? Number(values.iterations) : undefined,
  });
  mkdirSync(values.out, { recursive: true });
  writeFileSync(path.join(values.out, 'optimize.json'), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(path.join(values.out, 'optimize.md'), `${markdown}\n`);
  process.stdout.write(`${markdown}\n`);
}
