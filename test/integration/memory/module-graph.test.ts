import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TSX_LOADER } from '../../helpers/cli.js';
import { REPO } from '../../helpers/paths.js';

// What a serving device loads at start is memory it holds for months (docs/memory.md): each of
// these packages costs 1.5-4 MB of V8 heap per isolate that imports it. They must stay out of the
// start-up module graphs and load on first use (prom-client on the first /metrics scrape, onnx-proto
// while a deployment is validated, sharp for stills/snapshots, onnxruntime-node in the session's
// thread, aedes when the embedded broker starts). The packages each graph does load are checked
// too, so the test can fail both ways.
const dir = mkdtempSync(path.join(os.tmpdir(), 'ea-graph-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HOOK = pathToFileURL(path.join(REPO, 'test/helpers/resolve-log.mjs')).href;

/** The packages imported (directly, by the repo's modules) when the given modules are imported. */
function packagesImportedBy(modules: string[]): Set<string> {
  const log = path.join(dir, `${modules.length}-${Math.random().toString(36).slice(2)}.log`);
  const imports = modules.map(
    (m) => `await import(${JSON.stringify(pathToFileURL(path.join(REPO, m)).href)});`,
  );
  const run = spawnSync(
    process.execPath,
    ['--import', TSX_LOADER, '--import', HOOK, '--input-type=module', '-e', imports.join(' ')],
    { env: { ...process.env, EA_RESOLVE_LOG: log }, encoding: 'utf8', timeout: 60_000 },
  );
  expect(run.status, run.stderr).toBe(0);
  return new Set(readFileSync(log, 'utf8').split('\n').filter(Boolean));
}

describe('start-up module graphs', () => {
  it('the agent (`edge-agent run`) does not load what a serving device does not use', () => {
    const loaded = packagesImportedBy(['src/cli/run-main.ts', 'src/agent.ts']);
    for (const used of ['fastify', 'mqtt', 'zod', 'pino', 'better-sqlite3']) expect(loaded).toContain(used);
    for (const lazy of [
      'prom-client',
      '@fastify/static',
      'onnx-proto',
      'protobufjs',
      'sharp',
      'onnxruntime-node',
      'aedes',
    ])
      expect(loaded, lazy).not.toContain(lazy);
  });

  it('the pipeline worker loads neither sharp, onnxruntime-node nor zod at start', () => {
    const loaded = packagesImportedBy(['src/pipeline/remote/worker-main.ts']);
    expect(loaded).toContain('pino');
    for (const lazy of ['sharp', 'onnxruntime-node', 'prom-client', 'zod'])
      expect(loaded, lazy).not.toContain(lazy);
  });
});
