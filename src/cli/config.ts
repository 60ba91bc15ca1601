import path from 'node:path';
import { configJsonSchemaText, loadConfig } from '../config/index.js';
import { redactSecrets } from '../config/redact.js';
import { missingPaths, referencedPaths } from '../config/referenced-paths.js';
import { ConfigError, UsageError } from '../errors.js';
import { type Command, parseCommandArgs, writeJson } from './command.js';

export const configCommand: Command = {
  name: 'config',
  summary: 'Validate or print the configuration (validate [FILE] | print [FILE] | schema)',
  usage: 'edge-agent config validate [FILE] | config print [FILE] | config schema',
  async run(ctx) {
    const { positionals } = parseCommandArgs(this, ctx.argv, {});
    const [action, file, ...extra] = positionals;
    if (extra.length > 0)
      throw new UsageError(`config: unexpected arguments: ${extra.join(' ')}\nusage: ${this.usage}`);
    switch (action) {
      case 'validate': {
        try {
          const loaded = loadConfig({ file, env: ctx.env, cwd: ctx.cwd });
          const missing = missingPaths(referencedPaths(loaded.config));
          if (missing.length > 0) throw new ConfigError('referenced files are missing', missing);
          ctx.stdout.write(
            `${loaded.file ? path.relative(ctx.cwd, loaded.file) || loaded.file : 'defaults'}: valid\n`,
          );
          return 0;
        } catch (err) {
          if (err instanceof ConfigError && err.problems.length > 0) {
            for (const p of err.problems) ctx.stderr.write(`${p}\n`);
            ctx.stderr.write(`${err.problems.length} problem${err.problems.length === 1 ? '' : 's'} found\n`);
            return 1;
          }
          throw err;
        }
      }
      case 'print': {
        const loaded = loadConfig({ file, env: ctx.env, cwd: ctx.cwd });
        writeJson(ctx.stdout, redactSecrets(loaded.config));
        return 0;
      }
      case 'schema':
        ctx.stdout.write(configJsonSchemaText());
        return 0;
      default:
        throw new UsageError(`config: expected validate, print or schema\nusage: ${this.usage}`);
    }
  },
};
