import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { systemClock } from '../clock.js';
import { type LoadedConfig, loadConfig } from '../config/index.js';
import type { DeviceProfile } from '../hardware/index.js';
import { readProfile } from '../hardware/profile.js';
import { createLogger, type Logger } from '../log.js';
import { type Catalog, loadCatalog } from '../models/catalog.js';
import { Store } from '../store/index.js';
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

/**
 * A progress printer on stderr (silent with --quiet) and the device profile read under it: what the
 * commands that measure on this device (`tune`, `plan`) start with.
 */
export async function profileWithProgress(
  ctx: CommandContext,
  setup: CliSetup,
  quiet: boolean | undefined,
): Promise<{ progress: (line: string) => void; profile: DeviceProfile }> {
  const progress = (line: string) => {
    if (!quiet) ctx.stderr.write(`${line}\n`);
  };
  progress('profiling the device…');
  const { config } = setup.loaded;
  const profile = await readProfile({ root: config.hardware.root, dataDir: config.dataDir, log: setup.log });
  return { progress, profile };
}

/** The agent's database (benchmark cache, decisions) for a command run beside or instead of the agent. */
export function openCliStore(setup: CliSetup): Store {
  const { config } = setup.loaded;
  mkdirSync(config.dataDir, { recursive: true });
  return new Store({
    file: path.join(config.dataDir, 'edge-agent.db'),
    config: config.store,
    clock: systemClock,
    log: setup.log,
  });
}
