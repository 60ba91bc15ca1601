import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, errorMessage } from '../errors.js';
import { packageRoot } from '../paths.js';
import { resolveCameraSource, resolveModelsDir } from './bundled-paths.js';
import { formatIssues } from './format.js';
import { configJsonSchema } from './json-schema.js';
import { type AgentConfig, configSchema } from './schema.js';

export interface LoadedConfig {
  config: AgentConfig;
  /** The file it came from, or undefined when only defaults and environment were used. */
  file: string | undefined;
  /** Folder relative paths in the config are resolved against. */
  baseDir: string;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Environment variables that override single keys (applied before validation). */
export const ENV_OVERRIDES: ReadonlyArray<{ env: string; path: readonly string[]; number?: boolean }> = [
  { env: 'EDGE_AGENT_DEVICE_ID', path: ['deviceId'] },
  { env: 'EDGE_AGENT_DATA_DIR', path: ['dataDir'] },
  { env: 'EDGE_AGENT_MQTT_URL', path: ['mqtt', 'url'] },
  { env: 'EDGE_AGENT_HTTP_PORT', path: ['http', 'port'], number: true },
  { env: 'EDGE_AGENT_HTTP_HOST', path: ['http', 'host'] },
  { env: 'EDGE_AGENT_HTTP_TOKEN', path: ['http', 'token'] },
  { env: 'EDGE_AGENT_CAMERA_SOURCE', path: ['camera', 'source'] },
];

/**
 * Finds the config file: an explicit path (flag or EDGE_AGENT_CONFIG) must exist; otherwise
 * ./agent.config.json in the working directory, then the package's own bundled one.
 */
export function resolveConfigPath(explicit: string | undefined, env: Env, cwd: string): string | undefined {
  const chosen = explicit ?? env.EDGE_AGENT_CONFIG;
  if (chosen) {
    const file = path.resolve(cwd, chosen);
    if (!existsSync(file)) throw new ConfigError(`config file not found: ${file}`);
    return file;
  }
  for (const candidate of [
    path.join(cwd, 'agent.config.json'),
    path.join(packageRoot(), 'agent.config.json'),
  ]) {
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${file}: ${errorMessage(err)}`, [], { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config ${file} is not valid JSON: ${errorMessage(err)}`, [], { cause: err });
  }
}

/** Validates a raw object; throws ConfigError listing every bad field with its path. */
export function parseConfig(raw: unknown, source = 'config'): AgentConfig {
  const result = configSchema().safeParse(raw);
  if (result.success) return result.data;
  const problems = formatIssues(result.error.issues, raw, configJsonSchema());
  throw new ConfigError(`${source} is invalid:\n  ${problems.join('\n  ')}`, problems);
}

export function applyEnvOverrides(raw: unknown, env: Env): Record<string, unknown> {
  const copy = structuredClone(raw ?? {}) as Record<string, unknown>;
  if (typeof copy !== 'object' || copy === null || Array.isArray(copy)) return copy;
  for (const { env: name, path: keys, number } of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    let target = copy;
    for (const key of keys.slice(0, -1)) {
      const next = target[key];
      if (typeof next !== 'object' || next === null) target[key] = {};
      target = target[key] as Record<string, unknown>;
    }
    const parsed = number && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
    target[keys[keys.length - 1]!] = parsed;
  }
  return copy;
}

/** Resolves a config path (data dir, model dir, image folder) against the config's folder. */
export function resolveFrom(baseDir: string, p: string): string {
  return path.isAbsolute(p) ? p : path.resolve(baseDir, p);
}

export interface LoadConfigOptions {
  file?: string;
  env?: Env;
  cwd?: string;
}

export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const file = resolveConfigPath(options.file, env, cwd);
  const raw = file ? readConfigFile(file) : {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${file ?? 'config'} must hold a JSON object`);
  }
  const withEnv = applyEnvOverrides(raw, env);
  const config = parseConfig(withEnv, file ?? 'config');
  const baseDir = file ? path.dirname(file) : cwd;
  // Bundled models/samples resolve against the package, user paths against the config's folder.
  const bundled = { packageRoot: packageRoot() };
  return {
    config: {
      ...config,
      dataDir: resolveFrom(baseDir, config.dataDir),
      models: {
        ...config.models,
        dir: resolveModelsDir(rawString(withEnv, 'models', 'dir'), baseDir, bundled),
      },
      camera: {
        ...config.camera,
        source: resolveCameraSource(rawString(withEnv, 'camera', 'source'), baseDir, bundled),
      },
      hardware: { ...config.hardware, root: resolveFrom(baseDir, config.hardware.root) },
      mqtt: { ...config.mqtt, tls: resolveTlsPaths(baseDir, config.mqtt.tls) },
    },
    file,
    baseDir,
  };
}

/** A string the config file (with env overrides) sets at section.key, or undefined when unset. */
function rawString(raw: Record<string, unknown>, section: string, key: string): string | undefined {
  const value = (raw[section] as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'string' ? value : undefined;
}

/** `images:DIR` and `file:PATH` sources name local paths; make them absolute like the other paths. */
export function resolveSourcePath(baseDir: string, source: string): string {
  const match = /^(images|file):(.+)$/.exec(source);
  if (!match) return source;
  return `${match[1]}:${resolveFrom(baseDir, match[2]!)}`;
}

/** TLS files (CA, client certificate and key) are paths relative to the config's folder. */
function resolveTlsPaths(baseDir: string, tls: AgentConfig['mqtt']['tls']): AgentConfig['mqtt']['tls'] {
  return {
    ...tls,
    ...(tls.ca ? { ca: resolveFrom(baseDir, tls.ca) } : {}),
    ...(tls.cert ? { cert: resolveFrom(baseDir, tls.cert) } : {}),
    ...(tls.key ? { key: resolveFrom(baseDir, tls.key) } : {}),
  };
}
