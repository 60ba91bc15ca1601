import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { readProfile } from '../hardware/profile.js';
import { formatProfileSummary } from '../hardware/summary.js';
import { createLogger } from '../log.js';
import { type Command, parseCommandArgs, writeJson } from './command.js';

export const profileCommand: Command = {
  name: 'profile',
  summary: 'Print the device profile: board, CPU features, memory budget, GPU, power, battery, heat',
  usage: 'edge-agent profile [--json] [--root DIR] [--data-dir DIR]',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      json: { type: 'boolean' },
      root: { type: 'string' },
      'data-dir': { type: 'string' },
    });
    if (positionals.length > 0)
      throw new UsageError(`profile: unexpected argument "${positionals[0]}"\nusage: ${this.usage}`);
    let root = '/';
    if (values.root !== undefined) {
      root = path.resolve(ctx.cwd, values.root);
      if (!existsSync(root) || !statSync(root).isDirectory()) {
        throw new UsageError(
          `profile: --root ${values.root}: not a folder (give a captured device tree, e.g. test/fixtures/hardware/raspberry-pi-4)`,
        );
      }
    }
    const log = createLogger({
      level: (ctx.env.EDGE_AGENT_LOG_LEVEL as 'info' | undefined) ?? 'warn',
      fd: 2,
    });
    // On the device the data dir is the working directory's unless given; in a tree, a device path.
    const dataDir = values['data-dir'] ?? (root === '/' ? ctx.env.EDGE_AGENT_DATA_DIR : undefined);
    const profile = await readProfile({
      root,
      log,
      ...(dataDir ? { dataDir: root === '/' ? path.resolve(ctx.cwd, dataDir) : dataDir } : {}),
    });
    if (values.json) writeJson(ctx.stdout, profile);
    else ctx.stdout.write(`${formatProfileSummary(profile)}\n`);
    return 0;
  },
};
