import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';
import { type AgentConfig, parseConfig } from './index.js';
import { readConfigFile } from './load.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const MAX_DEPTH = 16;

/**
 * RFC 7396 JSON merge patch: objects merge key by key, `null` deletes a key, anything else
 * replaces. Pure; refuses absurd nesting instead of recursing without bound.
 */
export function mergePatch(target: unknown, patch: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) throw new ConfigError(`set-config: patch nested deeper than ${MAX_DEPTH} levels`);
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const base: Record<string, unknown> =
    target !== null && typeof target === 'object' && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      throw new ConfigError(`set-config: key "${key}" is not allowed`);
    }
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value, depth + 1);
  }
  return base;
}

/** Dotted paths of the leaves that differ between two configs (arrays compare whole). Pure. */
export function changedPaths(before: unknown, after: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(before) && isObj(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => changedPaths(before[k], after[k], prefix ? `${prefix}.${k}` : k));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [prefix || '(root)'];
}

/**
 * A config key the running agent applies without a restart, by dotted path prefix
 * (`telemetry.intervalS`, `pipeline`). Feature modules own their live keys; a changed key no
 * live key covers needs a restart.
 */
export interface LiveKey {
  /** One prefix, or several applied together by one call. */
  prefix: string | readonly string[];
  apply(config: AgentConfig): Promise<void> | void;
}

export type LiveAppliers = readonly LiveKey[];

export interface SetConfigResult {
  file: string;
  changed: string[];
  applied: string[];
  restartRequired: string[];
  /** Keys changed in the file that an environment variable overrides at run time. */
  shadowedByEnv: string[];
  /** Live appliers that failed (the file still holds the new value; a restart applies it). */
  failed: Array<{ key: string; error: string }>;
}

export interface ConfigStoreDeps {
  /** The config file the agent was started with. */
  file: string | undefined;
  /** Loads the effective config from the file (env overrides, paths resolved), as at start-up. */
  load(): AgentConfig;
  live: LiveAppliers;
  /** Config keys an environment variable overrides. */
  envKeys?: readonly string[];
}

/**
 * get-config / set-config on the agent's config file: a patch is merged into the file's JSON,
 * the whole is validated with the config schema, written atomically (temp file + rename in the
 * same folder), then changes are applied live where possible and listed as needing a restart
 * otherwise. An invalid patch changes nothing.
 */
export class ConfigStore {
  private current: AgentConfig | undefined;

  constructor(private readonly deps: ConfigStoreDeps) {}

  /** The effective config now (after live changes). */
  effective(): AgentConfig {
    this.current ??= this.deps.load();
    return this.current;
  }

  setEffective(config: AgentConfig): void {
    this.current = config;
  }

  private requireFile(): string {
    if (!this.deps.file) {
      throw new ConfigError(
        'set-config: the agent runs on defaults without a config file; start it with --config FILE',
      );
    }
    return this.deps.file;
  }

  private readRaw(): Record<string, unknown> {
    if (!this.deps.file) return {};
    const raw = readConfigFile(this.deps.file);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new ConfigError(`${this.deps.file} must hold a JSON object`);
    }
    return raw as Record<string, unknown>;
  }

  async set(patch: Record<string, unknown>): Promise<SetConfigResult> {
    const file = this.requireFile();
    const before = this.effective();
    const originalText = readFileSync(file, 'utf8');
    const raw = this.readRaw();
    const merged = mergePatch(raw, patch) as Record<string, unknown>;
    parseConfig(merged, 'set-config: the patched config'); // throws with every bad field listed
    const changedInFile = changedPaths(parseConfig(raw), parseConfig(merged));
    writeAtomically(file, `${JSON.stringify(merged as Json, null, 2)}\n`);
    let after: AgentConfig;
    try {
      after = this.deps.load();
    } catch (err) {
      // Valid on its own but not with this environment's overrides: put the old file back.
      writeAtomically(file, originalText);
      throw err;
    }
    const changed = changedPaths(before, after);
    this.current = after;

    const applied: string[] = [];
    const failed: Array<{ key: string; error: string }> = [];
    const restartRequired: string[] = [];
    const byApplier = new Map<LiveAppliers[number], string[]>();
    for (const key of changed) {
      const applier = this.deps.live.find((a) => coversKey(a, key));
      if (!applier) restartRequired.push(key);
      else byApplier.set(applier, [...(byApplier.get(applier) ?? []), key]);
    }
    for (const [applier, keys] of byApplier) {
      try {
        await applier.apply(after);
        applied.push(...keys);
      } catch (err) {
        for (const key of keys) failed.push({ key, error: errorMessage(err) });
        restartRequired.push(...keys);
      }
    }
    const envKeys = this.deps.envKeys ?? [];
    const shadowedByEnv = changedInFile.filter((k) => envKeys.includes(k));
    return { file, changed, applied, restartRequired, shadowedByEnv, failed };
  }
}

/** Whether a live key covers a changed dotted path (`pipeline` covers `pipeline.fps`). */
export function coversKey(live: LiveKey, key: string): boolean {
  const prefixes: readonly string[] = typeof live.prefix === 'string' ? [live.prefix] : live.prefix;
  return prefixes.some((p) => key === p || key.startsWith(`${p}.`));
}

const TEMP_NAME = /^\.(.+)\.[0-9a-f]{8}\.tmp$/;

/** The file a path names, following symbolic links (the path itself when it does not exist yet). */
function resolveTarget(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return file;
  }
}

/**
 * Writes a file so that readers see the old or the new content, never half of it: a temp file in
 * the same folder, then a rename. A symbolic link stays a link (its target is replaced), and the
 * target keeps its mode (0600 stays 0600) and owner; if the owner cannot be kept (not allowed to
 * chown), nothing is written.
 */
export function writeAtomically(file: string, text: string): void {
  const target = resolveTarget(file);
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.${randomBytes(4).toString('hex')}.tmp`,
  );
  let before: Stats | undefined;
  try {
    before = statSync(target);
  } catch {
    before = undefined; // a new file: default mode and owner
  }
  try {
    const mode = before ? before.mode & 0o7777 : undefined;
    writeFileSync(tmp, text, { flush: true, ...(mode !== undefined ? { mode } : {}) });
    if (before) {
      chmodSync(tmp, before.mode & 0o7777); // the umask may have narrowed the mode given above
      const stat = statSync(tmp);
      if (stat.uid !== before.uid || stat.gid !== before.gid) chownSync(tmp, before.uid, before.gid);
    }
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new ConfigError(`cannot write ${file}: ${errorMessage(err)}`, [], { cause: err });
  }
}

/**
 * Removes temp files a killed write left next to the config file (and next to its link target);
 * returns what it removed. Run at start, before any write of this process.
 */
export function removeStaleTemps(file: string): string[] {
  const removed: string[] = [];
  const target = resolveTarget(file);
  for (const dir of new Set([path.dirname(file), path.dirname(target)])) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue; // an unreadable folder: nothing we could have written there either
    }
    for (const name of names) {
      const base = TEMP_NAME.exec(name)?.[1];
      if (base !== path.basename(file) && base !== path.basename(target)) continue;
      rmSync(path.join(dir, name), { force: true });
      removed.push(path.join(dir, name));
    }
  }
  return removed;
}
