// Cold start of the agent as a device runs it (`node dist/cli.js run`): time from spawning the
// process to `/healthz` answering and to the first inference result (`/api/results/latest`), with
// the import time of the CLI's modules alone for comparison. `npm run bench:cold-start [-- --runs 5]`;
// `-- --lean` on the lean runtime (V8 --lite-mode, EDGE_AGENT_LEAN=1), written to bench/cold-start-lean.*.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { AGENT_LEAN_NODE_ARGS } from '../../src/service/memory-env.js';
import { DEPLOY_ENV, DEPLOY_NODE_ARGS, ensureBuilt } from './memory.js';
import { makeVideo } from './pipeline.js';
import { markdownTable, percentile, round, writeStandalone } from './stats.js';

export interface ColdStartOptions {
  model?: string;
  /** Another build's dist/cli.js, to compare (A/B on the same machine state). */
  cli?: string;
  runs?: number;
  /** The lean runtime's node arguments besides the deployment's. */
  lean?: boolean;
  log?: (line: string) => void;
}

interface ColdRun {
  healthzMs: number;
  firstResultMs: number;
  /** CPU time (user + system, all threads) the agent used until /healthz answered: far less load-sensitive. */
  healthzCpuMs: number | undefined;
}

function cpuMs(pid: number | undefined): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

async function poll(url: string, deadline: number): Promise<boolean> {
  while (performance.now() < deadline) {
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

export async function coldStartOnce(
  cli: string,
  video: string,
  model: string,
  nodeArgs: readonly string[] = DEPLOY_NODE_ARGS,
): Promise<ColdRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-cold-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const config = path.join(dir, 'agent.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: path.join(dir, 'data'),
      models: { dir: path.join(packageRoot(), 'models'), default: model },
      inference: { threads: 2 },
      camera: { source: `file:${video}`, realtime: false, loop: true },
      http: { port },
      mqtt: { embedded: { port: 0 } },
      log: { level: 'warn' },
    }),
  );
  const env = { ...process.env, ...DEPLOY_ENV };
  const t0 = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, cli, 'run', '--config', config], {
    env,
    stdio: 'ignore',
  });
  try {
    const deadline = t0 + 60_000;
    const base = `http://127.0.0.1:${port}`;
    if (!(await poll(`${base}/healthz`, deadline))) throw new Error('cold start: /healthz never answered');
    const healthzMs = performance.now() - t0;
    const healthzCpuMs = cpuMs(child.pid);
    if (!(await poll(`${base}/api/results/latest`, deadline)))
      throw new Error('cold start: no result in 60 s');
    return { healthzMs, firstResultMs: performance.now() - t0, healthzCpuMs };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** cli/run.js, or its chunk in the bundle (scripts/bundle.mjs) when the build has one. */
function runModule(dir: string): string {
  const meta = path.join(dir, 'bundle', 'meta.json');
  if (!existsSync(meta)) return path.join(dir, 'cli', 'run.js');
  const { outputs } = JSON.parse(readFileSync(meta, 'utf8')) as {
    outputs: Record<string, { entryPoint?: string }>;
  };
  const chunk = Object.entries(outputs).find(([, o]) => o.entryPoint?.endsWith('/cli/run.js'))?.[0];
  return chunk ? path.join(dir, 'bundle', path.basename(chunk)) : path.join(dir, 'cli', 'run.js');
}

/**
 * Node start + importing what `edge-agent run` imports, without running anything (what module loading
 * costs): cli/run-main.js and cli/run.js (their bundle where the build has one) where the build has them, else
 * cli/main.js (older builds).
 */
function importMs(cli: string, nodeArgs: readonly string[]): number {
  const dir = path.dirname(cli);
  const runMain = path.join(dir, 'cli', 'run-main.js');
  const code = existsSync(runMain)
    ? `import(${JSON.stringify(runMain)}).then(() => import(${JSON.stringify(runModule(dir))}))`
    : `import(${JSON.stringify(path.join(dir, 'cli', 'main.js'))})`;
  const t0 = performance.now();
  spawnSync(process.execPath, [...nodeArgs, '-e', code]);
  return performance.now() - t0;
}

export async function benchColdStart(options: ColdStartOptions = {}) {
  const log = options.log ?? (() => {});
  const model = options.model ?? 'yolox-nano';
  const runs = options.runs ?? 3;
  const nodeArgs = options.lean ? [...DEPLOY_NODE_ARGS, ...AGENT_LEAN_NODE_ARGS] : DEPLOY_NODE_ARGS;
  const cli = options.cli ? path.resolve(options.cli) : ensureBuilt(packageRoot(), log);
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-video-'));
  try {
    const video = makeVideo(dir);
    const results: ColdRun[] = [];
    const imports: number[] = [];
    for (let i = 0; i < runs; i++) {
      imports.push(importMs(cli, nodeArgs));
      const r = await coldStartOnce(cli, video, model, nodeArgs);
      log(
        `cold start ${i + 1}/${runs}: /healthz ${Math.round(r.healthzMs)} ms (agent CPU ${r.healthzCpuMs ?? '–'} ms), first result ${Math.round(r.firstResultMs)} ms`,
      );
      results.push(r);
    }
    const median = (v: number[]) => round(percentile(v, 50), 0);
    const json = {
      model,
      runs,
      healthzMsMedian: median(results.map((r) => r.healthzMs)),
      firstResultMsMedian: median(results.map((r) => r.firstResultMs)),
      healthzCpuMsMedian: median(results.map((r) => r.healthzCpuMs ?? Number.NaN)),
      healthzMsMin: round(Math.min(...results.map((r) => r.healthzMs)), 0),
      firstResultMsMin: round(Math.min(...results.map((r) => r.firstResultMs)), 0),
      importCliMsMedian: median(imports),
      results,
    };
    const markdown = [
      markdownTable(
        [
          'model',
          'to /healthz (median)',
          'to first result (median)',
          'agent CPU until /healthz (median)',
          'node + import of the CLI modules',
          'runs',
        ],
        [
          [
            model,
            `${json.healthzMsMedian} ms`,
            `${json.firstResultMsMedian} ms`,
            `${json.healthzCpuMsMedian} ms`,
            `${json.importCliMsMedian} ms`,
            runs,
          ],
        ],
      ),
      '',
      `\`node ${nodeArgs.join(' ')} dist/cli.js run\` from spawn, on a video file, HTTP and the embedded MQTT broker on; ` +
        'the import column is node importing what `run` imports (cli/run-main.js and cli/run.js) alone. ' +
        `Quickest run: /healthz ${Math.round(Math.min(...results.map((r) => r.healthzMs)))} ms, first result ` +
        `${Math.round(Math.min(...results.map((r) => r.firstResultMs)))} ms.`,
      '',
    ].join('\n');
    return { json, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string' },
      model: { type: 'string' },
      cli: { type: 'string' },
      lean: { type: 'boolean' },
    },
  });
  writeStandalone(
    values.lean ? 'cold-start-lean' : 'cold-start',
    await benchColdStart({
      ...(values.runs ? { runs: Number(values.runs) } : {}),
      ...(values.model ? { model: values.model } : {}),
      ...(values.cli ? { cli: values.cli } : {}),
      ...(values.lean ? { lean: true } : {}),
      log: (line) => process.stderr.write(`[bench] ${line}\n`),
    }),
  );
}
