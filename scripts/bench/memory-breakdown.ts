// Where the agent's anonymous memory goes, by toggling one thing at a time: the real agent
// (`node dist/cli.js run`, deployment environment) with one setting changed per run. Per row:
// anonymous RSS and RSS (median of 1 s samples over the second half), the V8 heap committed by the
// main thread and by the inference worker (from a bench-only preload, scripts/bench/heap-probe.cjs,
// that every isolate runs), and the frame rate over the same window (so a cut's throughput cost is
// in the same run). `npm run bench:memory-breakdown [-- --seconds 40] [-- --rows baseline,arena-off]
// [-- --out NAME]` (bench/NAME.{md,json}; memory-breakdown by default);
// a row `a+b` makes both changes at once (e.g. `slim-320-u8in+lite-mode`); with `--compare
// <other build>/dist/cli.js`, a part `compare` runs the row on that build (`slim-320-u8in+compare`).
// Each row also records RSS at every whole minute: a long run (`--seconds 1800`) gives the 1/10/30 min
// figures and the growth from minute 1 to the end.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { AGENT_LEAN_NODE_ARGS } from '../../src/service/memory-env.js';
import { DEPLOY_ENV, DEPLOY_NODE_ARGS, ensureBuilt, readStatus } from './memory.js';
import { makeVideo } from './pipeline.js';
import { markdownTable, percentile, round, writeStandalone } from './stats.js';

type Env = Record<string, string | undefined>;
type Config = Record<string, unknown>;

interface Toggle {
  id: string;
  name: string;
  /** Changes to the baseline config. */
  config?: (base: Config) => Config;
  /** Changes to the deployment environment (undefined removes a variable). */
  env?: Env;
  /** node arguments instead of the deployment's (V8 flags NODE_OPTIONS does not accept). */
  nodeArgs?: readonly string[];
  /** Work before the agent starts, e.g. deriving a variant into its data directory. */
  prepare?: (cli: string, dataDir: string) => void;
  /** Another build's dist/cli.js to run instead of this repository's (`compare`). */
  cli?: string;
}

/**
 * Rows `a+b`: both changes at once (configs composed, environments merged, node arguments of
 * both — each toggle's additions to the deployment's arguments).
 */
function combine(parts: Toggle[]): Toggle {
  const cli = parts.find((t) => t.cli)?.cli;
  const nodeArgs = parts.some((t) => t.nodeArgs)
    ? [
        ...DEPLOY_NODE_ARGS.filter((a) => parts.every((t) => !t.nodeArgs || t.nodeArgs.includes(a))),
        ...new Set(parts.flatMap((t) => (t.nodeArgs ?? []).filter((a) => !DEPLOY_NODE_ARGS.includes(a)))),
      ]
    : undefined;
  return {
    id: parts.map((t) => t.id).join('+'),
    name: parts.map((t) => t.name).join(' + '),
    config: (c) => parts.reduce((acc, t) => (t.config ? t.config(acc) : acc), c),
    env: Object.assign({}, ...parts.map((t) => t.env ?? {})),
    ...(nodeArgs ? { nodeArgs } : {}),
    prepare: (cli, dataDir) => {
      for (const t of parts) t.prepare?.(cli, dataDir);
    },
    ...(cli ? { cli } : {}),
  };
}

/** The deployment's node arguments without some of them. */
function without(...flags: string[]): string[] {
  return DEPLOY_NODE_ARGS.filter((a) => !flags.includes(a));
}

const TOGGLES: Toggle[] = [
  { id: 'baseline', name: 'baseline: yolox-nano, HTTP, embedded MQTT broker, camera as fast as possible' },
  { id: 'http-off', name: 'HTTP server off', config: (c) => ({ ...c, http: { enabled: false } }) },
  {
    id: 'no-broker',
    name: 'no embedded broker (an unreachable external one)',
    config: (c) => ({ ...c, mqtt: { url: 'mqtt://127.0.0.1:9' } }),
  },
  {
    id: 'idle',
    name: 'inference idle (duty cycle, one frame an hour)',
    config: (c) => ({ ...c, pipeline: { mode: 'duty-cycle', intervalS: 3600 } }),
  },
  {
    id: 'slim-320',
    name: 'smallest shipped variant (ultraface/slim-320)',
    config: (c) => ({ ...c, models: { ...(c.models as object), default: 'ultraface', variant: 'slim-320' } }),
  },
  {
    id: 'slim-320-u8in',
    // Derived before the run: `edge-agent derive ultraface --variant slim-320 --method input-uint8`.
    name: 'ultraface slim-320_u8in (takes camera bytes: input-uint8, derived before the run)',
    config: (c) => ({
      ...c,
      models: { ...(c.models as object), default: 'ultraface', variant: 'slim-320_u8in' },
    }),
    prepare: (cli, dataDir) => {
      execFileSync(
        process.execPath,
        [
          cli,
          'derive',
          'ultraface',
          '--variant',
          'slim-320',
          '--method',
          'input-uint8',
          '--out',
          dataDir,
          '--quiet',
        ],
        { stdio: 'ignore' },
      );
    },
  },
  {
    id: 'arena-off',
    name: 'onnxruntime enableCpuMemArena: false',
    env: { EA_PROBE_ORT_OPTIONS: '{"enableCpuMemArena":false}' },
  },
  {
    id: 'pattern-on',
    name: 'onnxruntime enableMemPattern: true (the agent: false since 2026-11-30 22:30)',
    env: { EA_PROBE_ORT_OPTIONS: '{"enableMemPattern":true}' },
  },
  {
    id: 'arena-max-default',
    name: 'MALLOC_ARENA_MAX unset (glibc default)',
    env: { MALLOC_ARENA_MAX: undefined, EDGE_AGENT_NO_REEXEC: '1' },
  },
  { id: 'arena-max-1', name: 'MALLOC_ARENA_MAX=1', env: { MALLOC_ARENA_MAX: '1' } },
  {
    id: 'mmap-threshold-dynamic',
    name: "glibc's dynamic mmap threshold and default trim (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ unset)",
    env: { MALLOC_MMAP_THRESHOLD_: undefined, MALLOC_TRIM_THRESHOLD_: undefined, EDGE_AGENT_NO_REEXEC: '1' },
  },
  {
    id: 'mmap-threshold-256k',
    name: 'glibc mmap threshold fixed at 256 KiB (agent: 64 KiB)',
    env: { MALLOC_MMAP_THRESHOLD_: '262144' },
  },
  {
    // V8's compiler zones grow in 8–32 KiB segments: below 64 KiB they come from the arenas, where a
    // burst of them can stay after it is freed (docs/memory.md, "Fifteenth round").
    id: 'mmap-threshold-16k',
    name: 'glibc mmap threshold fixed at 16 KiB (agent: 64 KiB)',
    env: { MALLOC_MMAP_THRESHOLD_: '16384' },
  },
  {
    id: 'semi-space-default',
    name: 'main thread V8 young generation default (no --max-semi-space-size)',
    env: { NODE_OPTIONS: undefined },
  },
  {
    id: 'semi-space-1',
    name: 'main thread semi-space 1 MB (agent: 2)',
    env: { NODE_OPTIONS: '--max-semi-space-size=1' },
  },
  {
    id: 'no-optimize-for-size',
    name: 'without V8 --optimize-for-size',
    nodeArgs: without('--optimize-for-size'),
  },
  {
    id: 'lite-mode',
    name: 'lean runtime (EDGE_AGENT_LEAN=1: V8 --lite-mode, no optimising compilers)',
    nodeArgs: [...DEPLOY_NODE_ARGS, ...AGENT_LEAN_NODE_ARGS],
  },
  {
    id: 'no-maglev',
    name: "V8 --no-maglev (no mid-tier optimising compiler; on by default in Node ≥ 22's V8)",
    nodeArgs: [...DEPLOY_NODE_ARGS, '--no-maglev'],
  },
  {
    id: 'no-turbofan',
    name: 'V8 --no-turbofan (Maglev the top tier; the agent on Node ≥ 24, where it is a no-op row)',
    nodeArgs: [...without('--no-turbofan'), '--no-turbofan'],
  },
  {
    id: 'turbofan',
    name: 'V8 TurboFan on (the agent on Node ≥ 24: --no-turbofan; on Node 20 and 22 a no-op row)',
    nodeArgs: without('--no-turbofan'),
  },
  {
    id: 'bytecode-old-age-default',
    name: "V8's default bytecode age (unused bytecode flushed after 5 full collections; agent: 1)",
    nodeArgs: without('--bytecode-old-age=1'),
  },
  {
    id: 'sparkplug',
    name: 'V8 Sparkplug on (the baseline compiler tier; agent: --no-sparkplug)',
    nodeArgs: without('--no-sparkplug'),
  },
  {
    id: 'code-default',
    name: "V8's code defaults (Sparkplug on, bytecode age 5): the agent's flags before 2026-11-30 15:00",
    nodeArgs: without('--no-sparkplug', '--bytecode-old-age=1'),
  },
  {
    id: 'max-lazy',
    name: 'V8 --max-lazy (functions compiled on first call only, eager hints ignored)',
    nodeArgs: [...DEPLOY_NODE_ARGS, '--max-lazy'],
  },
  {
    id: 'heap-growing-5',
    name: 'V8 --heap-growing-percent=5 (old generation limit 1.05 × live instead of up to 1.3 ×)',
    nodeArgs: [...DEPLOY_NODE_ARGS, '--heap-growing-percent=5'],
  },
  {
    id: 'v8-pool-1',
    name: 'node --v8-pool-size=1 (one V8 platform thread for GC and compilation helpers; default 4)',
    nodeArgs: [...DEPLOY_NODE_ARGS, '--v8-pool-size=1'],
  },
  {
    id: 'single-threaded-gc',
    name: 'V8 --single-threaded-gc (no parallel or concurrent marking and sweeping)',
    nodeArgs: [...DEPLOY_NODE_ARGS, '--single-threaded-gc'],
  },
  {
    id: 'uv-threadpool-1',
    name: 'UV_THREADPOOL_SIZE=1 (libuv file-system and DNS threads; default 4)',
    env: { UV_THREADPOOL_SIZE: '1' },
  },
  {
    id: 'worker-young-16',
    name: 'pipeline worker maxYoungGenerationSizeMb 16 (agent: 8)',
    env: { EA_PROBE_WORKER_YOUNG_MB: '16' },
  },
  {
    id: 'worker-young-4',
    name: 'pipeline worker maxYoungGenerationSizeMb 4 (agent: 8)',
    env: { EA_PROBE_WORKER_YOUNG_MB: '4' },
  },
  {
    id: 'worker-young-2',
    name: 'pipeline worker maxYoungGenerationSizeMb 2 (agent: 8)',
    env: { EA_PROBE_WORKER_YOUNG_MB: '2' },
  },
  {
    id: 'worker-old-48',
    name: 'pipeline worker maxOldGenerationSizeMb 48 (agent: unset, V8 derives it)',
    env: { EA_PROBE_WORKER_OLD_MB: '48' },
  },
  {
    id: 'worker-old-24',
    name: 'pipeline worker maxOldGenerationSizeMb 24 (agent: unset)',
    env: { EA_PROBE_WORKER_OLD_MB: '24' },
  },
  {
    id: 'worker-gc-5s',
    name: 'a forced full collection in the pipeline worker every 5 s',
    env: { EA_PROBE_WORKER_GC_MS: '5000' },
  },
  {
    id: 'keeper-off',
    name: 'no heap keeper (EDGE_AGENT_HEAP_HEADROOM_MB=0: V8 collects on its own schedule)',
    env: { EDGE_AGENT_HEAP_HEADROOM_MB: '0' },
  },
  {
    id: 'keeper-4',
    name: 'heap keeper headroom 4 MB (agent: 2)',
    env: { EDGE_AGENT_HEAP_HEADROOM_MB: '4' },
  },
  {
    id: 'camera-15fps',
    name: '15 inferences a second from the camera in real time (not as fast as the file can be read)',
    config: (c) => ({
      ...c,
      camera: { ...(c.camera as object), realtime: true },
      pipeline: { ...(c.pipeline as object), fps: 15 },
    }),
  },
  {
    id: 'worker-young-1',
    name: 'pipeline worker maxYoungGenerationSizeMb 1 (agent: 8)',
    env: { EA_PROBE_WORKER_YOUNG_MB: '1' },
  },
];

interface Sample {
  anonMB: number;
  rssMB: number;
  mainHeapMB?: number;
  mainExternalMB?: number;
  workerHeapMB?: number;
}

const MB = 1024 * 1024;

function readProbe(dir: string): Pick<Sample, 'mainHeapMB' | 'mainExternalMB' | 'workerHeapMB'> {
  const out: Pick<Sample, 'mainHeapMB' | 'mainExternalMB' | 'workerHeapMB'> = {};
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.json')) continue;
    try {
      const r = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as {
        thread: string;
        heap: { total_heap_size: number };
        process?: { external: number; arrayBuffers: number };
      };
      if (r.thread === 'main') {
        out.mainHeapMB = r.heap.total_heap_size / MB;
        if (r.process) out.mainExternalMB = r.process.external / MB;
      } else out.workerHeapMB = (out.workerHeapMB ?? 0) + r.heap.total_heap_size / MB;
    } catch {
      // being replaced
    }
  }
  return out;
}

/** CPU time (user + system) of a process so far, ms (Linux /proc; clock ticks are 10 ms). */
function cpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

async function processed(port: number): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/status`);
    if (!res.ok) return undefined;
    return ((await res.json()) as { pipeline: { counters: { processed: number } } }).pipeline.counters
      .processed;
  } catch {
    return undefined;
  }
}

export async function runOnce(
  cli: string,
  config: Config,
  envChanges: Env,
  seconds: number,
  nodeArgs: readonly string[] = DEPLOY_NODE_ARGS,
  prepare?: (cli: string, dataDir: string) => void,
) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-breakdown-'));
  prepare?.(cli, path.join(dir, 'data'));
  const probe = path.join(dir, 'probe');
  mkdirSync(probe);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const http = config.http as { enabled?: boolean } | undefined;
  const file = path.join(dir, 'agent.config.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...config,
      dataDir: path.join(dir, 'data'),
      ...(http?.enabled === false ? {} : { http: { ...http, port } }),
    }),
  );
  const env: Env = { ...process.env, ...DEPLOY_ENV, EA_HEAP_PROBE_DIR: probe };
  for (const [k, v] of Object.entries(envChanges)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const preload = path.join(packageRoot(), 'scripts', 'bench', 'heap-probe.cjs');
  const child = spawn(process.execPath, [...nodeArgs, '--require', preload, cli, 'run', '--config', file], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  const samples: Sample[] = [];
  // RSS when each whole minute is reached (1 min, 2 min, …), and what it is made of then: a step in RSS
  // is told apart as anonymous or file-backed, in a V8 heap or outside both.
  const rssAtMinutes: number[] = [];
  const atMinutes: Array<{ anonMB: number; mainHeapMB?: number; workerHeapMB?: number }> = [];
  let firstCount: { n: number; t: number; cpu: number } | undefined;
  let lastCount: { n: number; t: number; cpu: number } | undefined;
  try {
    const started = performance.now();
    while ((performance.now() - started) / 1000 < seconds) {
      await new Promise((r) => setTimeout(r, 1000));
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}: ${stderr}`);
      const s = child.pid ? readStatus(child.pid) : undefined;
      if (s && (performance.now() - started) / 60_000 >= rssAtMinutes.length + 1) {
        rssAtMinutes.push(s.rssMB);
        const { mainHeapMB, workerHeapMB } = readProbe(probe);
        atMinutes.push({
          anonMB: s.anonMB,
          ...(mainHeapMB !== undefined ? { mainHeapMB: round(mainHeapMB, 1) } : {}),
          ...(workerHeapMB !== undefined ? { workerHeapMB: round(workerHeapMB, 1) } : {}),
        });
      }
      // Warm-up (imports, model load, first frames) is the first half.
      if (s && (performance.now() - started) / 1000 > seconds / 2) {
        samples.push({ anonMB: s.anonMB, rssMB: s.rssMB, ...readProbe(probe) });
        const n = http?.enabled === false ? undefined : await processed(port);
        const cpu = child.pid ? cpuMs(child.pid) : undefined;
        if (n !== undefined && cpu !== undefined) {
          const c = { n, t: performance.now(), cpu };
          firstCount ??= c;
          lastCount = c;
        }
      }
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  const med = (key: keyof Sample) => {
    const v = samples.map((s) => s[key]).filter((x): x is number => x !== undefined);
    return v.length > 0 ? round(percentile(v, 50), 1) : undefined;
  };
  const fps =
    firstCount && lastCount && lastCount.t > firstCount.t
      ? round(((lastCount.n - firstCount.n) * 1000) / (lastCount.t - firstCount.t), 1)
      : undefined;
  // CPU per frame is far less sensitive to a busy machine than frames per second.
  const cpuMsPerFrame =
    firstCount && lastCount && lastCount.n > firstCount.n
      ? round((lastCount.cpu - firstCount.cpu) / (lastCount.n - firstCount.n), 2)
      : undefined;
  return {
    cpuMsPerFrame,
    anonMB: med('anonMB')!,
    rssMB: med('rssMB')!,
    mainHeapMB: med('mainHeapMB'),
    mainExternalMB: med('mainExternalMB'),
    workerHeapMB: med('workerHeapMB'),
    fps,
    rssAtMinutes,
    atMinutes,
  };
}

export function baseConfig(video: string): Config {
  return {
    models: { dir: path.join(packageRoot(), 'models'), default: 'yolox-nano' },
    inference: { threads: 2 },
    camera: { source: `file:${video}`, realtime: false, loop: true },
    http: {},
    mqtt: { embedded: { port: 0 } },
    log: { level: 'warn' },
    // What serves all day, not the first start's background tune (whose measuring bursts pause the
    // pipeline for a minute or two and may switch the variant the row names).
    policy: { tuning: { background: false } },
  };
}

export async function benchMemoryBreakdown(
  options: {
    seconds?: number;
    rows?: string[];
    /** Another build's `dist/cli.js`: row `compare` runs the baseline on it (A/B in one run). */
    compare?: string;
    log?: (l: string) => void;
  } = {},
) {
  const log = options.log ?? (() => {});
  const seconds = options.seconds ?? 40;
  // In the order asked for (a row may repeat, to interleave A/B runs on a noisy machine).
  const compare = (): Toggle => {
    if (!options.compare) throw new Error('row compare needs --compare <other build>/dist/cli.js');
    return { id: 'compare', name: `on another build (${options.compare})`, cli: options.compare };
  };
  const toggles = options.rows
    ? options.rows.map((id) => {
        if (id === 'compare') {
          const c = compare();
          return { ...c, name: `baseline ${c.name}` };
        }
        const parts = id.split('+').map((part) => {
          if (part === 'compare') return compare();
          const t = TOGGLES.find((x) => x.id === part);
          if (!t) throw new Error(`unknown row ${part} (${TOGGLES.map((x) => x.id).join(', ')})`);
          return t;
        });
        return parts.length === 1 ? parts[0]! : combine(parts);
      })
    : TOGGLES;
  const cli = ensureBuilt(packageRoot(), log);
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-video-'));
  try {
    const video = makeVideo(dir);
    const base = baseConfig(video);
    const rows = [];
    for (const t of toggles) {
      const r = await runOnce(
        t.cli ?? cli,
        (t.config ?? ((c) => c))(base),
        t.env ?? {},
        seconds,
        t.nodeArgs,
        t.prepare,
      );
      log(
        `memory breakdown: ${t.id}: anonymous ${r.anonMB} MB, RSS ${r.rssMB} MB, heaps main ${r.mainHeapMB} / worker ${r.workerHeapMB} MB, ${r.fps ?? '–'} fps, ${r.cpuMsPerFrame ?? '–'} CPU ms/frame, RSS by minute ${r.rssAtMinutes.join(' ')}; anonymous / main heap / worker heap by minute ${r.atMinutes.map((m) => `${m.anonMB}/${m.mainHeapMB ?? '–'}/${m.workerHeapMB ?? '–'}`).join(' ')}`,
      );
      rows.push({ id: t.id, toggle: t.name, ...r });
    }
    const baseline = rows.find((r) => r.id === 'baseline') ?? rows[0]!;
    const delta = (v: number, b: number) => `${v - b >= 0 ? '+' : ''}${round(v - b, 1)}`;
    // Rows of two minutes or more: RSS at minute 1 and at the last whole minute, and the growth between.
    const long = seconds >= 120;
    const growth = (m: number[]) =>
      m.length < 2
        ? '–'
        : `${m[0]} → ${m[m.length - 1]} (${delta(m[m.length - 1]!, m[0]!)} in ${m.length - 1} min)`;
    const markdown = [
      markdownTable(
        [
          'run (one change from the baseline)',
          'anonymous MB',
          'Δ anonymous',
          'RSS MB',
          'V8 heap main / worker MB',
          'main external MB',
          'frames/s (÷ baseline)',
          'agent CPU ms per frame (÷ baseline)',
          ...(long ? ['RSS MB at 1 min → last minute'] : []),
        ],
        rows.map((r) => [
          r.toggle,
          r.anonMB,
          r === baseline ? '—' : delta(r.anonMB, baseline.anonMB),
          r.rssMB,
          `${r.mainHeapMB ?? '–'} / ${r.workerHeapMB ?? '–'}`,
          r.mainExternalMB ?? '–',
          r.fps === undefined ? '–' : `${r.fps}${baseline.fps ? ` (${round(r.fps / baseline.fps, 2)})` : ''}`,
          r.cpuMsPerFrame === undefined
            ? '–'
            : `${r.cpuMsPerFrame}${baseline.cpuMsPerFrame ? ` (${round(r.cpuMsPerFrame / baseline.cpuMsPerFrame, 2)})` : ''}`,
          ...(long ? [growth(r.rssAtMinutes)] : []),
        ]),
      ),
      '',
      `Median of 1 s samples over the second half of a ${seconds} s run of \`node dist/cli.js run\` each, ` +
        'deployment environment (`DEPLOY_ENV` and `DEPLOY_NODE_ARGS` in scripts/bench/memory.ts) unless the row ' +
        'changes it. CPU per frame (user + system of the agent process over the window ÷ frames) is the ' +
        'throughput figure to compare on a busy machine; frames/s depends on the load of the moment.',
      '',
    ].join('\n');
    return { json: { seconds, rows }, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      rows: { type: 'string' },
      compare: { type: 'string' },
      out: { type: 'string' },
    },
  });
  // A long run's result is not overwritten by the next short one: `--out memory-breakdown-30min`.
  const out = values.out ?? 'memory-breakdown';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(out) || out.endsWith('.md') || out.endsWith('.json')) {
    throw new Error(`--out takes a file name without extension, written under bench/ (got "${out}")`);
  }
  writeStandalone(
    out,
    await benchMemoryBreakdown({
      ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
      ...(values.rows ? { rows: values.rows.split(',') } : {}),
      ...(values.compare ? { compare: path.resolve(values.compare) } : {}),
      log: (line) => process.stderr.write(`[bench] ${line}\n`),
    }),
  );
}
