import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { type AgentConfig, type LoadedConfig, loadConfig } from '../config/index.js';
import { missingPaths, referencedPaths } from '../config/referenced-paths.js';
import { ConfigError, errorMessage, UsageError } from '../errors.js';
import { readProfile } from '../hardware/profile.js';
import { createLogger } from '../log.js';
import { loadCatalog } from '../models/catalog.js';
import {
  type BrokerProbe,
  type CheckResult,
  checkBroker,
  checkCamera,
  checkClock,
  checkConfig,
  checkDisk,
  checkFfmpeg,
  checkMemory,
  checkProviders,
  checkService,
  checkThrottling,
  type DeviceAccess,
  exitCodeOf,
} from '../service/doctor-checks.js';
import { type Command, parseCommandArgs, writeJson } from './command.js';

const SERVICE_USER = 'edge-agent';

/** Runs a command; its trimmed stdout, or undefined when it is missing, fails or times out. */
function run(file: string, args: string[], timeoutMs = 5000): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(file, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout) => {
      // systemctl is-active exits 3 for "inactive" and still prints the state: keep stdout.
      const out = stdout?.trim();
      resolve(err && !out ? undefined : out || undefined);
    });
  });
}

const onPath = async (tool: string) => (await run('sh', ['-c', `command -v ${tool}`])) !== undefined;

/** The service user's group ids (undefined when the user does not exist). */
async function userGroups(user: string): Promise<number[] | undefined> {
  const ids = await run('id', ['-G', user]);
  return ids?.split(/\s+/).map(Number);
}

async function deviceAccess(dev: string, user: string): Promise<DeviceAccess> {
  if (!existsSync(dev)) return { exists: false, readableByServiceUser: undefined };
  const s = statSync(dev);
  const group = (await run('getent', ['group', String(s.gid)]))?.split(':')[0];
  const groups = await userGroups(user);
  if (!groups) {
    // No service user (a container, a dev machine): can this process read it?
    let readable = true;
    try {
      accessSync(dev, constants.R_OK);
    } catch {
      readable = false;
    }
    return { exists: true, readableByServiceUser: readable ? undefined : false, group };
  }
  const readable = (s.mode & 0o004) !== 0 || ((s.mode & 0o040) !== 0 && groups.includes(s.gid));
  return { exists: true, readableByServiceUser: readable, group };
}

async function probeBroker(config: AgentConfig): Promise<BrokerProbe> {
  const { url, tls, username, password } = config.mqtt;
  if (url === 'embedded') return { kind: 'embedded' };
  const shown = url.replace(/\/\/[^@/]*@/, '//[redacted]@');
  try {
    const files = Object.fromEntries(
      (['ca', 'cert', 'key'] as const).filter((k) => tls[k]).map((k) => [k, readFileSync(tls[k]!)]),
    );
    const { connectAsync } = await import('mqtt');
    const { brokerConnectOptions } = await import('../fleet/broker-url.js');
    const client = await connectAsync(
      brokerConnectOptions(url, {
        connectTimeout: 5000,
        reconnectPeriod: 0,
        clientId: `edge-agent-doctor-${process.pid}`,
        ...(username !== undefined ? { username } : {}),
        ...(password !== undefined ? { password } : {}),
        ...files,
        rejectUnauthorized: tls.rejectUnauthorized,
        ...(tls.passphrase ? { passphrase: tls.passphrase } : {}),
        ...(tls.servername ? { servername: tls.servername } : {}),
      }),
    );
    await client.endAsync();
    return { kind: 'reached', url: shown };
  } catch (err) {
    return { kind: 'failed', url: shown, error: errorMessage(err) };
  }
}

/** The nearest existing folder of `dir` (the data folder may not exist before the first run). */
function existingAncestor(dir: string): string {
  let d = dir;
  while (!existsSync(d) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

async function modelBytes(config: AgentConfig): Promise<number | undefined> {
  try {
    const catalog = await loadCatalog({ modelsDir: config.models.dir, dataDir: config.dataDir });
    const { variant } = catalog.variant(config.models.default, config.models.variant);
    return statSync(variant.path).size;
  } catch {
    return undefined;
  }
}

export async function runDoctor(options: {
  configFile: string | undefined;
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  root: string;
}): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  let loaded: LoadedConfig;
  try {
    loaded = loadConfig({ file: options.configFile, env: options.env, cwd: options.cwd });
  } catch (err) {
    const problems =
      err instanceof ConfigError && err.problems.length > 0 ? err.problems : [errorMessage(err)];
    return [checkConfig(options.configFile, problems)];
  }
  const { config } = loaded;
  results.push(checkConfig(loaded.file, missingPaths(referencedPaths(config))));

  const log = createLogger({ level: 'silent', fd: 2 });
  const live = options.root === '/';
  const [profile, broker, ffmpeg, synchronized, active, enabled] = await Promise.all([
    readProfile({ root: options.root, log, ...(live ? { dataDir: existingAncestor(config.dataDir) } : {}) }),
    probeBroker(config),
    run('ffmpeg', ['-hide_banner', '-version']).then((v) => v?.split('\n')[0]),
    live ? run('timedatectl', ['show', '-p', 'NTPSynchronized', '--value']) : Promise.resolve(undefined),
    live && existsSync('/run/systemd/system')
      ? run('systemctl', ['is-active', 'edge-agent'])
      : Promise.resolve(undefined),
    live && existsSync('/run/systemd/system')
      ? run('systemctl', ['is-enabled', 'edge-agent'])
      : Promise.resolve(undefined),
  ]);
  const devDir = path.join(options.root, 'dev');
  const videoDevices = existsSync(devDir)
    ? readdirSync(devDir)
        .filter((n) => /^video\d+$/.test(n))
        .map((n) => `/dev/${n}`)
    : [];
  const v4l2 = /^v4l2:(.+)$/.exec(config.camera.source)?.[1];
  const tools = Object.fromEntries(
    await Promise.all(
      ['rpicam-vid', 'libcamera-vid', 'gst-launch-1.0'].map(async (t) => [t, await onPath(t)] as const),
    ),
  );
  results.push(
    checkCamera({
      source: config.camera.source,
      videoDevices,
      ...(v4l2 ? { device: await deviceAccess(path.join(options.root, v4l2), SERVICE_USER) } : {}),
      serviceUser: SERVICE_USER,
      tools,
    }),
    checkFfmpeg(ffmpeg, config.camera.source),
    checkBroker(broker),
    checkClock(synchronized, profile.board.container),
    checkDisk(config.dataDir, profile.storage),
    checkMemory(config.models.default, await modelBytes(config), profile.memory),
    checkThrottling(profile.thermal),
    checkProviders(config.inference.executionProviders, profile.executionProviders),
    checkService({
      active,
      enabled,
      container: profile.board.container,
      ...(profile.board.containerRuntime ? { containerRuntime: profile.board.containerRuntime } : {}),
    }),
  );
  return results;
}

const MARK = { ok: '✓', warn: '!', fail: '✗' } as const;

export const doctorCommand: Command = {
  name: 'doctor',
  summary:
    'Check what fails on real devices (camera, ffmpeg, broker, clock, disk, memory, power, providers, service)',
  usage: 'edge-agent doctor [--json] [--config FILE] [--root DIR]   (exit 0 ok, 1 warnings, 2 failures)',
  async run(ctx) {
    const { values, positionals } = parseCommandArgs(this, ctx.argv, {
      json: { type: 'boolean' },
      config: { type: 'string', short: 'c' },
      root: { type: 'string' },
    });
    if (positionals.length > 0)
      throw new UsageError(`doctor: unexpected argument "${positionals[0]}"\nusage: ${this.usage}`);
    const root = values.root === undefined ? '/' : path.resolve(ctx.cwd, values.root);
    if (!existsSync(root)) throw new UsageError(`doctor: --root ${values.root}: not a folder`);
    const checks = await runDoctor({ configFile: values.config, env: ctx.env, cwd: ctx.cwd, root });
    const exitCode = exitCodeOf(checks);
    if (values.json) {
      const status = (['ok', 'warn', 'fail'] as const)[exitCode];
      writeJson(ctx.stdout, { status, exitCode, checks });
    } else {
      const width = Math.max(...checks.map((c) => c.id.length));
      for (const c of checks) {
        ctx.stdout.write(`${MARK[c.status]} ${c.id.padEnd(width)}  ${c.summary}\n`);
        if (c.fix) ctx.stdout.write(`  ${' '.repeat(width)}  fix: ${c.fix}\n`);
      }
      const counts = (s: string) => checks.filter((c) => c.status === s).length;
      ctx.stdout.write(`${counts('ok')} ok, ${counts('warn')} warnings, ${counts('fail')} failures\n`);
    }
    return exitCode;
  },
};
