import { readFile } from 'node:fs/promises';
import { sha256Hex } from '../models/integrity.js';
import { type Command, formatTable, parseCommandArgs, writeJson } from './command.js';
import { setupCli } from './shared.js';

export const modelsCommand: Command = {
  name: 'models',
  summary: 'List the bundled and derived models and variants',
  usage: 'edge-agent models [--verify] [--json] [--config FILE]',
  async run(ctx) {
    const { values } = parseCommandArgs(this, ctx.argv, {
      json: { type: 'boolean' },
      verify: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
    });
    const { catalog } = await setupCli(ctx, values.config);
    const models = [];
    for (const entry of catalog.models()) {
      const variants = [];
      for (const v of entry.variants) {
        let integrity: 'ok' | 'mismatch' | 'missing' | undefined;
        if (values.verify) {
          integrity = await readFile(v.path).then(
            (bytes) => (sha256Hex(bytes) === v.sha256 ? 'ok' : 'mismatch'),
            () => 'missing' as const,
          );
        }
        variants.push({
          id: v.id,
          file: v.path,
          precision: v.precision,
          bytes: v.bytes,
          sha256: v.sha256,
          origin: v.origin,
          derived: v.derived,
          default: v.id === entry.manifest.defaultVariant,
          reference: v.reference,
          ...(v.quality ? { quality: v.quality } : {}),
          ...(integrity ? { integrity } : {}),
        });
      }
      models.push({
        name: entry.manifest.name,
        task: entry.manifest.task,
        description: entry.manifest.description,
        license: entry.manifest.license,
        input: entry.manifest.input,
        decoder: entry.manifest.decoder.type,
        defaultVariant: entry.manifest.defaultVariant,
        variants,
      });
    }
    if (values.json) {
      writeJson(ctx.stdout, models);
      return 0;
    }
    const rows = models.flatMap((m) =>
      m.variants.map((v) => [
        m.name,
        m.task,
        `${v.id}${v.default ? ' *' : ''}`,
        v.precision,
        `${(v.bytes / 1e6).toFixed(2)} MB`,
        v.origin.kind === 'shipped' ? 'shipped' : `derived (${v.origin.method})`,
        ...(values.verify ? [v.integrity ?? ''] : []),
      ]),
    );
    const header = [
      'model',
      'task',
      'variant',
      'precision',
      'size',
      'origin',
      ...(values.verify ? ['sha256'] : []),
    ];
    ctx.stdout.write(`${formatTable(header, rows)}\n(* = default variant)\n`);
    return models.some((m) => m.variants.some((v) => v.integrity && v.integrity !== 'ok')) ? 1 : 0;
  },
};
