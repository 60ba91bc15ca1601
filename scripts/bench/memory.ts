// Memory of the real agent process: `edge-agent run` (compiled, as on a device) on a video file read
// as fast as possible, with HTTP and the embedded MQTT broker on. RSS (and its anonymous / file-backed
// parts) is sampled from /proc every few seconds; growth is the last sample minus the one at 1 minute.
// Alone: `npm run bench:memory [-- --minutes 10] [-- --models yolox-nano,ultraface/slim-320]`.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import {
  AGENT_MALLOC_ENV,
  AGENT_NODE_ARGS,
  AGENT_V8_FLAGS,
  jitNodeArgs,
} from '../../src/service/memory-env.js';
import { makeVideo } from './pipeline.js';
import { markdownTable, round } from './stats.js';

export interface MemoryBenchOptions {
  /** Length of each run in minutes (growth is measured from minute 1 to the end). */
  minutes?: number;
  /** `model` or `model/variant`; the first is the headline figure. */
  models?: string[];
  threads?: number;
  log?: (line: string) => void;
}

interface Reading {
  s: number;
  rssMB: number;
  anonMB: number;
  fileMB: number;
}

/** VmRSS, RssAnon and RssFile of a process, in MiB (Linux /proc). */
export function readStatus(pid: number): Omit<Reading, 's'> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    rssMB: round(kb('VmRSS') / 1024, 1),
    anonMB: round(kb('RssAnon') / 1024, 1),
    fileMB: round(kb('RssFile') / 1024, 1),
  };
}

/**
 * The environment of deploy/edge-agent.service and Dockerfile.arm64 (glibc malloc and V8 settings
 * that must be in place before the process starts; docs/memory.md has what each buys).
 */
export const DEPLOY_ENV = {
  ...AGENT_MALLOC_ENV,
  NODE_OPTIONS: AGENT_V8_FLAGS.join(' '),
} as const;

/**
 * The node arguments of the unit's ExecStart and the image's ENTRYPOINT, with the JIT's for the Node
 * running the bench (`--no-turbofan` on Node ≥ 24, which scripts/install.sh writes and the image has).
 */
export const DEPLOY_NODE_ARGS: readonly string[] = [...AGENT_NODE_ARGS, ...jitNodeArgs()];

export function ensureBuilt(root: string, log: (l: string) => void): string {
  const cli = path.join(root, 'dist', 'cli.js');
  if (!existsSync(cli) || !existsSync(path.join(root, 'dist', 'inference', 'session-worker.mjs'))) {
    log('memory: building dist/ (npm run build)');
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'ignore' });
  }
  return cli;
}

async function measure(
  cli: string,
  video: string,
  target: string,
  seconds: number,
  threads: number,
  log: (l: string) => void,
) {
  const [model, variant] = target.split('/');
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-memory-'));
  const config = path.join(dir, 'agent.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: path.join(dir, 'data'),
      models: { dir: path.join(packageRoot(), 'models'), default: model, ...(variant ? { variant } : {}) },
      inference: { threads },
      // A named variant is measured as itself: the background tune would otherwise replace it with
      // the policy's choice (ultraface/slim-320 → RFB-640, the only one above the default fidelity
      // floor) and the figure would be another variant's. A model alone is measured as deployed.
      ...(variant ? { policy: { tuning: { background: false } } } : {}),
      camera: { source: `file:${video}`, realtime: false, loop: true },
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      log: { level: 'warn' },
    }),
  );
  // The same environment as deploy/edge-agent.service and Dockerfile.arm64.
  const env = { ...process.env, ...DEPLOY_ENV };
  const child = spawn(process.execPath, [...DEPLOY_NODE_ARGS, cli, 'run', '--config', config], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const readings: Reading[] = [];
  const started = performance.now();
  try {
    while ((performance.now() - started) / 1000 < seconds) {
      await new Promise((r) => setTimeout(r, 5000));
      if (child.exitCode !== null)
        throw new Error(`agent exited with ${child.exitCode}: ${stderr.slice(-500)}`);
      const r = child.pid ? readStatus(child.pid) : undefined;
      if (r) readings.push({ s: round((performance.now() - started) / 1000, 0), ...r });
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  const atOneMinute = readings.find((r) => r.s >= Math.min(60, seconds / 2)) ?? readings[0]!;
  const last = readings[readings.length - 1]!;
  const peak = Math.max(...readings.map((r) => r.rssMB));
  log(
    `memory: ${target} ${atOneMinute.rssMB} MB at ${atOneMinute.s} s → ${last.rssMB} MB at ${last.s} s (peak ${peak})`,
  );
  return {
    target,
    atOneMinute,
    last,
    peakMB: peak,
    growthMB: round(last.rssMB - atOneMinute.rssMB, 1),
    readings,
  };
}

export async function benchMemory(options: MemoryBenchOptions = {}) {
  const log = options.log ?? (() => {});
  const minutes = options.minutes ?? 2;
  const models = options.models ?? ['yolox-nano', 'ultraface/slim-320', 'squeezenet1.1/fp16'];
  const root = packageRoot();
  const cli = ensureBuilt(root, log);
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-video-'));
  try {
    const video = makeVideo(dir);
    const runs = [];
    for (const [i, target] of models.entries()) {
      // The headline model runs the full length; the others long enough to settle.
      runs.push(
        await measure(
          cli,
          video,
          target,
          i === 0 ? minutes * 60 : Math.min(minutes * 60, 60),
          options.threads ?? 2,
          log,
        ),
      );
    }
    const markdown = [
      markdownTable(
        ['model', 'RSS at ~1 min', 'RSS at end', 'growth', 'peak', 'anonymous / file-backed at end'],
        runs.map((r) => [
          r.target,
          `${r.atOneMinute.rssMB} MB (${r.atOneMinute.s} s)`,
          `${r.last.rssMB} MB (${r.last.s} s)`,
          `${r.growthMB >= 0 ? '+' : ''}${r.growthMB} MB`,
          `${r.peakMB} MB`,
          `${r.last.anonMB} / ${r.last.fileMB} MB`,
        ]),
      ),
      '',
      'The agent process alone (`node dist/cli.js run`): video file read as fast as possible, HTTP and the embedded ' +
        'MQTT broker on, log level warn; a model alone runs as deployed (the background tune on), a named ' +
        'variant with the background tune off (it would replace the variant). File-backed pages (the node binary, libonnxruntime, libvips) are shared and ' +
        'reclaimable; the anonymous part is what the agent itself holds. ffmpeg runs in its own process (not counted).',
    ].join('\n');
    return { json: { minutes, threads: options.threads ?? 2, runs }, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { minutes: { type: 'string' }, models: { type: 'string' }, out: { type: 'string' } },
  });
  const result = await benchMemory({
    ...(values.minutes ? { minutes: Number(values.minutes) } : {}),
    ...(values.models ? { models: values.models.split(',') } : {}),
    log: (line) => process.stderr.write(`[bench] ${line}\n`),
  });
  const out = path.resolve(values.out ?? path.join(packageRoot(), 'bench'));
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'memory.json'), `${JSON.stringify(result.json, null, 2)}\n`);
  writeFileSync(path.join(out, 'memory.md'), `# Agent memory\n\n${result.markdown}\n`);
  process.stdout.write(`${result.markdown}\n`);
}
