// Where the agent's anonymous memory goes, by toggling one thing at a time: the real agent
// (`node dist/cli.js run`, deployment environment) with one setting changed per run, anonymous
// RSS as the median of its samples after warm-up. `npm run bench:memory-breakdown [-- --seconds 40]`.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { packageRoot } from '../../src/paths.js';
import { ensureBuilt, readStatus } from './memory.js';
import { makeVideo } from './pipeline.js';
import { markdownTable, percentile, round, writeStandalone } from './stats.js';

interface Toggle {
  name: string;
  /** Changes to the baseline config. */
  config: (base: Record<string, unknown>) => Record<string, unknown>;
}

const TOGGLES: Toggle[] = [
  { name: 'baseline: yolox-nano, HTTP, embedded MQTT broker, camera as fast as possible', config: (c) => c },
  { name: 'HTTP server off', config: (c) => ({ ...c, http: { enabled: false } }) },
  {
    name: 'no embedded broker (an unreachable external one)',
    config: (c) => ({ ...c, mqtt: { url: 'mqtt://127.0.0.1:9' } }),
  },
  {
    name: 'inference idle (duty cycle, one frame an hour)',
    config: (c) => ({ ...c, pipeline: { mode: 'duty-cycle', intervalS: 3600 } }),
  },
  {
    name: 'smallest shipped variant (ultraface/slim-320)',
    config: (c) => ({ ...c, models: { ...(c.models as object), default: 'ultraface', variant: 'slim-320' } }),
  },
];

async function run(cli: string, config: Record<string, unknown>, seconds: number) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-breakdown-'));
  const file = path.join(dir, 'agent.config.json');
  writeFileSync(file, JSON.stringify({ ...config, dataDir: path.join(dir, 'data') }));
  const env = { ...process.env, MALLOC_ARENA_MAX: '2', NODE_OPTIONS: '--max-semi-space-size=2' };
  const child = spawn(process.execPath, [cli, 'run', '--config', file], { env, stdio: 'ignore' });
  const samples: Array<{ anonMB: number; rssMB: number }> = [];
  try {
    const started = performance.now();
    while ((performance.now() - started) / 1000 < seconds) {
      await new Promise((r) => setTimeout(r, 1000));
      if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}`);
      const s = child.pid ? readStatus(child.pid) : undefined;
      // Warm-up (imports, model load, first frames) is the first half.
      if (s && (performance.now() - started) / 1000 > seconds / 2) samples.push(s);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    anonMB: round(
      percentile(
        samples.map((s) => s.anonMB),
        50,
      ),
      1,
    ),
    rssMB: round(
      percentile(
        samples.map((s) => s.rssMB),
        50,
      ),
      1,
    ),
  };
}

export async function benchMemoryBreakdown(options: { seconds?: number; log?: (l: string) => void } = {}) {
  const log = options.log ?? (() => {});
  const seconds = options.seconds ?? 40;
  const cli = ensureBuilt(packageRoot(), log);
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-video-'));
  try {
    const video = makeVideo(dir);
    const base = {
      models: { dir: path.join(packageRoot(), 'models'), default: 'yolox-nano' },
      inference: { threads: 2 },
      camera: { source: `file:${video}`, realtime: false, loop: true },
      http: { port: 20_000 + Math.floor(Math.random() * 20_000) },
      mqtt: { embedded: { port: 0 } },
      log: { level: 'warn' },
    };
    const rows = [];
    for (const t of TOGGLES) {
      const r = await run(cli, t.config(base), seconds);
      log(`memory breakdown: ${t.name}: anonymous ${r.anonMB} MB, RSS ${r.rssMB} MB`);
      rows.push({ toggle: t.name, ...r });
    }
    const baseline = rows[0]!;
    const markdown = [
      markdownTable(
        ['run (one change from the baseline)', 'anonymous MB', 'Δ anonymous vs baseline', 'RSS MB'],
        rows.map((r) => [
          r.toggle,
          r.anonMB,
          r === baseline
            ? '—'
            : `${r.anonMB - baseline.anonMB >= 0 ? '+' : ''}${round(r.anonMB - baseline.anonMB, 1)}`,
          r.rssMB,
        ]),
      ),
      '',
      `Median of 1 s samples over the second half of a ${seconds} s run of \`node dist/cli.js run\` each.`,
      '',
    ].join('\n');
    return { json: { seconds, rows }, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' } } });
  writeStandalone(
    'memory-breakdown',
    await benchMemoryBreakdown({
      ...(values.seconds ? { seconds: Number(values.seconds) } : {}),
      log: (line) => process.stderr.write(`[bench] ${line}\n`),
    }),
  );
}
