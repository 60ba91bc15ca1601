import { type LoadedConfig, loadConfig } from '../config/index.js';
import { createLogger, type Logger } from '../log.js';
import { type Catalog, loadCatalog } from '../models/catalog.js';
import type { CommandContext } from './command.js';

export interface CliSetup {
  loaded: LoadedConfig;
  catalog: Catalog;
  log: Logger;
}

/** Config, model catalog and a stderr logger for one-shot commands (stdout stays for results). */
export async function setupCli(ctx: CommandContext, configFile: string | undefined): Promise<CliSetup> {
  const loaded = loadConfig({ file: configFile, env: ctx.env, cwd: ctx.cwd });
  const log = createLogger({
    level: ctx.env.EDGE_AGENT_LOG_LEVEL === undefined ? 'warn' : (ctx.env.EDGE_AGENT_LOG_LEVEL as 'info'),
    fd: 2,
  });
  const catalog = await loadCatalog({
    modelsDir: loaded.config.models.dir,
    dataDir: loaded.config.dataDir,
    log,
  });
  return { loaded, catalog, log };
}

export function parsePositiveInt(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${flag}: expected a non-negative integer, got "${value}"`);
  return n;
}
