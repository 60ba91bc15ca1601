import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { ImageDecodeError, UsageError } from '../errors.js';
import { inferenceJson } from '../inference/json.js';
import { InferenceModel } from '../inference/model.js';
import type { InferenceResult } from '../inference/types.js';
import { type Command, parseCommandArgs, writeJson } from './command.js';
import { setupCli } from './shared.js';
import { parseThreadsFlag, usableCores } from './threads.js';

export const inferCommand: Command = {
  name: 'infer',
  summary: 'Run one image through a model and print detections or classes',
  usage:
    'edge-agent infer IMAGE [--model NAME] [--variant ID] [--threads N [--force]] [--json] [--config FILE]',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      model: { type: 'string', short: 'm' },
      variant: { type: 'string' },
      threads: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
    });
    if (positionals.length !== 1)
      throw new UsageError(`infer: expected one IMAGE, got ${positionals.length}\nusage: ${this.usage}`);
    const image = path.resolve(ctx.cwd, positionals[0]!);
    if (!existsSync(image)) throw new ImageDecodeError(`${image}: no such file`);
    if (!statSync(image).isFile()) throw new ImageDecodeError(`${image}: not a file`);
    const threads = parseThreadsFlag({
      command: 'infer',
      value: values.threads,
      cores: usableCores(),
      force: values.force,
    });

    const { loaded, catalog, log } = await setupCli(ctx, values.config);
    const modelName = values.model ?? loaded.config.models.default;
    const variant = values.variant ?? (values.model ? undefined : loaded.config.models.variant);
    const model = await InferenceModel.load({
      catalog,
      model: modelName,
      variant,
      session: {
        threads: threads ?? loaded.config.inference.threads,
        executionProviders: loaded.config.inference.executionProviders,
        graphOptimization: loaded.config.inference.graphOptimization,
      },
      log,
    });
    try {
      const result = await model.inferEncoded(image, { maxPixels: loaded.config.inference.maxInputPixels });
      if (values.json) writeJson(ctx.stdout, toJson(result));
      else ctx.stdout.write(`${describe(result, path.basename(image))}\n`);
    } finally {
      await model.dispose();
    }
    return 0;
  },
};

/** The documented `infer --json` shape (shared with `POST /api/infer`). */
export const toJson = inferenceJson;

function describe(r: InferenceResult, name: string): string {
  const t = r.timings;
  const total = t.preprocessMs + t.inferenceMs + t.postprocessMs;
  const head =
    `${r.model}/${r.variant} on ${name} (${r.imageWidth}x${r.imageHeight}): ` +
    `${total.toFixed(1)} ms (preprocess ${t.preprocessMs.toFixed(1)}, inference ${t.inferenceMs.toFixed(1)}, postprocess ${t.postprocessMs.toFixed(1)})`;
  if (r.task === 'classification') {
    const lines = (r.classes ?? []).map(
      (c) => `  ${(c.score * 100).toFixed(1).padStart(5)}%  ${c.label} (${c.classId})`,
    );
    return [head, ...lines].join('\n');
  }
  const dets = r.detections ?? [];
  if (dets.length === 0) return `${head}\n  no detections`;
  const lines = dets.map(
    (d) => `  ${d.score.toFixed(3)}  ${d.label.padEnd(14)} [${d.box.map((v) => Math.round(v)).join(', ')}]`,
  );
  return [`${head}\n  ${dets.length} detection${dets.length === 1 ? '' : 's'}:`, ...lines].join('\n');
}
