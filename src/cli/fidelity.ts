import path from 'node:path';
import { UsageError } from '../errors.js';
import { measureFidelity } from '../optimize/evaluation/evaluation.js';
import { terminalProgress } from '../optimize/progress.js';
import { type Command, parseCommandArgs, writeJson } from './command.js';
import { describeFidelity } from './derive.js';
import { setupCli } from './shared.js';
import { parseThreadsFlag, usableCores } from './threads.js';

export const fidelityCommand: Command = {
  name: 'fidelity',
  summary: 'Compare a variant with its reference on a frame set (agreement, mAP@0.5, output difference)',
  usage:
    'edge-agent fidelity MODEL --variant ID [--reference ID] [--frames DIR] [--limit N] [--threads N [--force]] [--json] [--config FILE]',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      variant: { type: 'string' },
      reference: { type: 'string' },
      frames: { type: 'string' },
      limit: { type: 'string' },
      threads: { type: 'string' },
      force: { type: 'boolean' },
      json: { type: 'boolean' },
      quiet: { type: 'boolean', short: 'q' },
      config: { type: 'string', short: 'c' },
    });
    if (positionals.length !== 1)
      throw new UsageError(`fidelity: expected one MODEL, got ${positionals.length}\nusage: ${this.usage}`);
    if (!values.variant) throw new UsageError(`fidelity: --variant is required\nusage: ${this.usage}`);
    const int = (v: string | undefined, flag: string, min: number) => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min)
        throw new UsageError(`fidelity: ${flag} expects an integer ≥ ${min}, got "${v}"`);
      return n;
    };
    const threads = parseThreadsFlag({
      command: 'fidelity',
      value: values.threads,
      cores: usableCores(),
      force: values.force,
    });
    const { catalog } = await setupCli(ctx, values.config);
    const report = await measureFidelity(catalog, positionals[0]!, values.variant, {
      reference: values.reference,
      frames: values.frames ? { dir: path.resolve(ctx.cwd, values.frames) } : undefined,
      limit: int(values.limit, '--limit', 1),
      threads,
      onProgress: values.quiet ? undefined : terminalProgress(ctx.stderr),
    });
    if (values.json) writeJson(ctx.stdout, report);
    else {
      ctx.stdout.write(
        `${[`${report.model}/${report.variant} vs ${report.reference} on ${report.framesDescription}`, ...describeFidelity(report)].join('\n')}\n`,
      );
    }
    return 0;
  },
};
