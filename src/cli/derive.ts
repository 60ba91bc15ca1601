import path from 'node:path';
import { UsageError } from '../errors.js';
import { type DerivedVariant, derive } from '../optimize/derive.js';
import type { FidelityReport } from '../optimize/evaluation/fidelity.js';
import { METHODS, parseMethod } from '../optimize/methods/index.js';
import { terminalProgress } from '../optimize/progress.js';
import { type Command, parseCommandArgs, writeJson } from './command.js';
import { setupCli } from './shared.js';
import { parseThreadsFlag, usableCores } from './threads.js';

/** Method parameters that have their own flag; anything else goes through --param KEY=VALUE. */
const PARAM_FLAGS = ['ranges', 'percentile', 'floor', 'frames', 'mode', 'sparsity', 'energy'] as const;

export const deriveCommand: Command = {
  name: 'derive',
  summary: `Derive an optimised variant on this device (${METHODS.join(', ')})`,
  usage:
    'edge-agent derive MODEL --method METHOD [--variant SOURCE] [--calib DIR] [--frames DIR] [--out DATADIR] [--id ID] ' +
    '[--ranges minmax|percentile|entropy] [--percentile P] [--floor F|none] [--mode unstructured|structured] [--sparsity S] ' +
    '[--energy E] [--param KEY=VALUE]... [--threads N [--force]] [--max-memory-mb MB] [--dry-run] [--json] [--config FILE]',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      method: { type: 'string' },
      variant: { type: 'string' },
      calib: { type: 'string' },
      frames: { type: 'string' },
      out: { type: 'string' },
      id: { type: 'string' },
      ranges: { type: 'string' },
      percentile: { type: 'string' },
      floor: { type: 'string' },
      'calib-frames': { type: 'string' },
      mode: { type: 'string' },
      sparsity: { type: 'string' },
      energy: { type: 'string' },
      param: { type: 'string', multiple: true },
      threads: { type: 'string' },
      force: { type: 'boolean' },
      'max-memory-mb': { type: 'string' },
      'dry-run': { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      config: { type: 'string', short: 'c' },
    });
    if (positionals.length !== 1)
      throw new UsageError(`derive: expected one MODEL, got ${positionals.length}\nusage: ${this.usage}`);
    if (!values.method)
      throw new UsageError(`derive: --method is required (${METHODS.join(', ')})\nusage: ${this.usage}`);
    const method = parseMethod(values.method);
    const params: Record<string, unknown> = {};
    for (const flag of PARAM_FLAGS) {
      const v = flag === 'frames' ? values['calib-frames'] : values[flag];
      if (v !== undefined) params[flag] = v;
    }
    for (const kv of values.param ?? []) {
      const eq = kv.indexOf('=');
      if (eq <= 0) throw new UsageError(`derive: --param expects KEY=VALUE, got "${kv}"`);
      params[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
    const threads = parseThreadsFlag({
      command: 'derive',
      value: values.threads,
      cores: usableCores(),
      force: values.force,
    });
    const maxMemoryMB = values['max-memory-mb'] === undefined ? undefined : Number(values['max-memory-mb']);
    if (maxMemoryMB !== undefined && (!Number.isFinite(maxMemoryMB) || maxMemoryMB <= 0)) {
      throw new UsageError(
        `derive: --max-memory-mb expects a positive number, got "${values['max-memory-mb']}"`,
      );
    }
    const { catalog, loaded } = await setupCli(ctx, values.config);
    // The fallback's floor defaults to the policy's, so derived variants meet what the tuner will ask.
    if (method === 'int8-static' && params.floor === undefined)
      params.floor = loaded.config.policy.fidelityFloor;
    const controller = new AbortController();
    const onSignal = () => controller.abort();
    process.once('SIGINT', onSignal);
    try {
      const result = await derive(catalog, positionals[0]!, method, params, {
        source: values.variant,
        id: values.id,
        calibration: values.calib ? { dir: path.resolve(ctx.cwd, values.calib) } : undefined,
        evaluation: values.frames ? { dir: path.resolve(ctx.cwd, values.frames) } : undefined,
        dataDir: values.out ? path.resolve(ctx.cwd, values.out) : undefined,
        dryRun: values['dry-run'],
        threads,
        ...(maxMemoryMB !== undefined ? { maxMemoryMB } : {}),
        signal: controller.signal,
        onProgress: values.quiet ? undefined : terminalProgress(ctx.stderr),
      });
      if (values.json) writeJson(ctx.stdout, deriveJson(result));
      else ctx.stdout.write(`${describeDerived(result)}\n`);
    } finally {
      process.off('SIGINT', onSignal);
    }
    return 0;
  },
};

/** The documented `derive --json` shape. */
export function deriveJson(r: DerivedVariant) {
  const { inspection, ...figures } = r.result;
  return {
    model: r.model,
    method: r.method,
    params: r.params,
    variant: r.variant,
    path: r.path ?? null,
    source: r.source,
    result: { ...figures, opset: inspection.opset, ops: inspection.ops },
    fidelity: r.fidelity,
    kernels: r.kernels,
    details: r.details,
    derivationMs: r.derivationMs,
  };
}

const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
const ratio = (a: number, b: number) => `${((100 * a) / b).toFixed(0)}%`;
const gflops = (f: number | undefined) => (f === undefined ? '?' : `${(f / 1e9).toFixed(3)} GFLOPs`);

export function describeFidelity(f: FidelityReport): string[] {
  const lines = [`fidelity  ${f.fidelity.toFixed(3)} (${f.metric}, ${f.frames} frames)`];
  if (f.classification) {
    const c = f.classification;
    lines.push(
      `          top-1 ${c.top1Agreement.toFixed(3)}, top-5 overlap ${c.top5Overlap.toFixed(3)}, mean KL ${c.meanKl.toFixed(4)}`,
    );
  }
  if (f.detection) {
    const d = f.detection;
    lines.push(
      `          precision ${d.precision.toFixed(3)}, recall ${d.recall.toFixed(3)} (${d.variantDetections} vs ${d.referenceDetections} detections)`,
    );
  }
  lines.push(
    Number.isFinite(f.output.maxAbsDiff)
      ? `          output difference max ${f.output.maxAbsDiff.toExponential(2)}, mean ${f.output.meanAbsDiff.toExponential(2)}`
      : '          output difference: not comparable (other output sizes: another input size); the metric above compares image-space results',
  );
  if (f.accuracy) {
    lines.push(
      `accuracy  ${f.accuracy.metric}: reference ${f.accuracy.reference.toFixed(3)}, variant ${f.accuracy.variant.toFixed(3)} (${f.accuracy.frames} frames)`,
    );
  }
  return lines;
}

function describeDerived(r: DerivedVariant): string {
  const s = r.source;
  const x = r.result;
  const kept = Array.isArray(r.details.keptFloat) ? (r.details.keptFloat as string[]).length : undefined;
  const kernels = Object.entries(r.kernels)
    .sort(([, a], [, b]) => b - a)
    .slice(0, 8)
    .map(([op, n]) => `${op}×${n}`)
    .join(' ');
  return [
    `${r.model}/${r.variant.id} (${r.method} of ${s.id}, ${r.variant.precision})${r.path ? ` → ${r.path}` : ' (dry run, not written)'}`,
    `size      ${mb(s.bytes)} → ${mb(x.bytes)} (${ratio(x.bytes, s.bytes)})`,
    `params    ${s.parameterCount} → ${x.parameterCount} (non-zero ${x.nonZeroParameters})`,
    `compute   ${gflops(s.flops)} → ${gflops(x.flops)}`,
    ...describeFidelity(r.fidelity),
    ...(kept !== undefined
      ? [`float     ${kept} compute layer(s) kept in float by the sensitivity fallback`]
      : []),
    `kernels   ${kernels}`,
    `took      ${(r.derivationMs / 1000).toFixed(1)} s`,
  ].join('\n');
}
