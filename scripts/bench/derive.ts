// A derivation requested from the running agent (the MQTT `derive` command, later the tuner):
// what it does to the agent's event loop and memory, derived in the agent's own process vs in the
// child process the agent uses. `npm run bench:derive [-- --quick]`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadCatalog } from '../../src/models/catalog.js';
import { derive } from '../../src/optimize/derive.js';
import type { Method } from '../../src/optimize/methods/index.js';
import type { deriveInChildProcess as DeriveInChildProcess } from '../../src/optimize/process/derive-process.js';
import { packageRoot } from '../../src/paths.js';
import { ensureBuilt } from './memory.js';
import { markdownTable, round, writeStandalone } from './stats.js';

export interface DeriveBenchOptions {
  model?: string;
  method?: Method;
  log?: (line: string) => void;
}

interface Run {
  where: 'in-process' | 'child process';
  seconds: number;
  lagP99Ms: number;
  lagMaxMs: number;
  rssBeforeMB: number;
  rssPeakMB: number;
  rssAfterMB: number;
  /** The child's own peak RSS (what the derivation needed), when it ran in one. */
  childPeakRssMB?: number;
}

const mb = (bytes: number) => round(bytes / 2 ** 20, 1);

async function measure(
  where: Run['where'],
  work: () => Promise<{ processPeakRssMB?: number } | object>,
): Promise<Run> {
  const lag = monitorEventLoopDelay({ resolution: 5 });
  const rssBefore = process.memoryUsage().rss;
  let peak = rssBefore;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  lag.enable();
  const t0 = performance.now();
  const done = await work();
  const seconds = (performance.now() - t0) / 1000;
  lag.disable();
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 3000)); // what is still held a few seconds later
  return {
    where,
    seconds: round(seconds, 1),
    lagP99Ms: round(lag.percentile(99) / 1e6, 1),
    lagMaxMs: round(lag.max / 1e6, 1),
    rssBeforeMB: mb(rssBefore),
    rssPeakMB: mb(peak),
    rssAfterMB: mb(process.memoryUsage().rss),
    ...('processPeakRssMB' in done && done.processPeakRssMB !== undefined
      ? { childPeakRssMB: done.processPeakRssMB }
      : {}),
  };
}

export async function benchDerive(
  options: DeriveBenchOptions = {},
): Promise<{ json: unknown; markdown: string }> {
  const model = options.model ?? 'yolox-nano';
  const method = options.method ?? 'int8-static';
  const log = options.log ?? (() => {});
  const modelsDir = path.join(packageRoot(), 'models');
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-bench-derive-'));
  try {
    // The child first: deriving in-process leaves memory behind that would colour what follows.
    log(`derive: ${model} ${method} in a child process`);
    // From dist/, as a device runs it: under tsx the child would load the TypeScript sources through
    // tsx's loader too (~30 MB more peak RSS than the compiled child; docs/memory.md).
    ensureBuilt(packageRoot(), log);
    const { deriveInChildProcess } = (await import(
      pathToFileURL(path.join(packageRoot(), 'dist', 'optimize', 'process', 'derive-process.js')).href
    )) as { deriveInChildProcess: typeof DeriveInChildProcess };
    const child = await measure('child process', () =>
      deriveInChildProcess({
        modelsDir,
        dataDir: path.join(dir, 'child'),
        model,
        method,
        params: {},
        threads: 1,
      }),
    );
    log(`derive: ${model} ${method} in this process`);
    const catalog = await loadCatalog({ modelsDir, dataDir: path.join(dir, 'local') });
    const local = await measure('in-process', () => derive(catalog, model, method, {}, { threads: 1 }));
    const runs = [child, local];
    const json = { model, method, runs };
    const markdown = [
      `${model}, ${method} (1 thread, bundled calibration frames), asked of a running process; its event loop and RSS are measured while it waits. The agent derives in a child process (src/optimize/process/derive-process.ts), here run from dist/ as on a device.`,
      '',
      markdownTable(
        ['derived', 'took', 'event-loop lag p99 / max', 'RSS before → peak → 3 s after', 'child peak RSS'],
        runs.map((r) => [
          r.where,
          `${r.seconds} s`,
          `${r.lagP99Ms} / ${r.lagMaxMs} ms`,
          `${r.rssBeforeMB} → ${r.rssPeakMB} → ${r.rssAfterMB} MB`,
          r.childPeakRssMB === undefined ? '' : `${r.childPeakRssMB} MB`,
        ]),
      ),
      '',
    ].join('\n');
    return { json, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const quick = process.argv.includes('--quick');
  const result = await benchDerive({
    log: (l) => process.stderr.write(`[bench] ${l}\n`),
    ...(quick ? { model: 'squeezenet1.1', method: 'int8-static' as Method } : {}),
  });
  writeStandalone('derive', result);
  process.exit(0);
}
