import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { addHugeVariant, squeezenetModels } from './helpers.js';

/** A config file in a new folder (its data directory beside it) tuning squeezenet1.1 from `models`. */
function tuneConfig(models: string, tuning: Record<string, number>, extra: Record<string, unknown> = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tune-cli-'));
  const config = path.join(dir, 'agent.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: path.join(dir, 'data'),
      models: { dir: models, default: 'squeezenet1.1' },
      policy: { tuning },
      ...extra,
    }),
  );
  return { dir, config };
}

describe('edge-agent tune', () => {
  it('--json has the documented shape and --plot writes both charts with the front and the choice', async () => {
    const { dir, config } = tuneConfig(squeezenetModels(), {
      rounds: 2,
      runsPerRound: 3,
      warmupRuns: 1,
      maxThreads: 1,
      fidelityFrames: 2,
    });
    const svg = path.join(dir, 'tune.svg');
    const run = await runCli(
      [
        'tune',
        '--config',
        config,
        '--json',
        '--plot',
        svg,
        '--derive',
        'never',
        '--objective',
        'min-latency',
        '--latency-p95-ms',
        '5000',
        '--min-fidelity',
        '0.5',
      ],
      { timeoutMs: 180_000 },
    );
    expect(run.stderr).toMatch(/round 2\/2/); // progress goes to stderr
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(Object.keys(out)).toEqual(
      expect.arrayContaining([
        'chosen',
        'mode',
        'objective',
        'constraints',
        'met',
        'reason',
        'candidates',
        'pareto',
        'derived',
        'tookMs',
      ]),
    );
    expect(Object.keys(out.chosen).sort()).toEqual(['executionProvider', 'threads', 'variant']);
    expect(out.objective).toBe('min-latency');
    expect(out.constraints).toMatchObject({ latencyP95Ms: 5000, fidelityFloor: 0.5 });
    expect(out.met).toBe(true);
    expect(out.derived).toEqual([]);
    expect(out.candidates).toHaveLength(2);
    for (const c of out.candidates) {
      for (const k of [
        'variant',
        'executionProvider',
        'threads',
        'latencyMs',
        'memoryBytes',
        'cpuMsPerInference',
        'energyPerInferenceJ',
        'fidelity',
        'sizeBytes',
        'verdict',
        'reason',
      ])
        expect(c).toHaveProperty(k);
      expect(Object.keys(c.latencyMs).sort()).toEqual(['p50', 'p95', 'p99']);
    }
    const text = readFileSync(svg, 'utf8');
    expect(text).toMatch(/^<svg /);
    expect(text).toContain('id="chart-latency"');
    expect(text).toContain('id="chart-size"');
    expect(text.match(/class="pareto-front"/g)?.length).toBe(2);
    expect(text.match(/class="chosen-marker"/g)?.length).toBe(2);

    const bad = await runCli(['tune', '--config', config, '--objective', 'fastest']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--objective must be one of max-accuracy, min-latency, min-energy');
  }, 240_000);

  it('--max-memory-mb caps the measuring children: a variant over it does not fit, the tune answers', async () => {
    const models = squeezenetModels({ fp16: false });
    addHugeVariant(models);
    const { config } = tuneConfig(models, { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1 });
    const run = await runCli(
      [
        'tune',
        '--config',
        config,
        '--json',
        '--derive',
        'never',
        '--max-memory-mb',
        '200',
        '--latency-p95-ms',
        '60000',
      ],
      { timeoutMs: 180_000 },
    );
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as {
      chosen: { variant: string };
      candidates: Array<{
        variant: string;
        verdict: string;
        memoryExceeded?: boolean;
        memoryCapBytes?: number;
      }>;
    };
    expect(out.candidates.find((c) => c.variant === 'huge')).toMatchObject({
      verdict: 'violates',
      memoryExceeded: true,
      memoryCapBytes: 200 * 1048576,
    });
    expect(out.chosen.variant).toBe('fp32');
    const bad = await runCli(['tune', '--config', config, '--max-memory-mb', 'lots'], { timeoutMs: 60_000 });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-memory-mb expects a number/);
  }, 240_000);

  it('says so when an agent serves on this machine with the same HTTP settings: it does not adopt the decision by itself', async () => {
    // A stand-in answering /healthz as the agent does (the real agent's is tested in test/integration/http).
    const agent = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: 'ok', pipeline: 'running', camera: 'online', faults: [] }));
    });
    await new Promise<void>((r) => agent.listen(0, '127.0.0.1', r));
    const port = (agent.address() as AddressInfo).port;
    try {
      const { config } = tuneConfig(
        squeezenetModels({ fp16: false }),
        { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1, fidelityFrames: 2 },
        { http: { port } },
      );
      const args = ['tune', '--config', config, '--derive', 'never', '--latency-p95-ms', '60000'];
      const run = await runCli(args, { timeoutMs: 120_000 });
      expect(run.code).toBe(0);
      expect(run.stderr).toContain(`note: an agent is running here (http://127.0.0.1:${port})`);
      expect(run.stderr).toContain(`POST http://127.0.0.1:${port}/api/controls/retune`);
      // --quiet: no note (and the cached figures answer at once).
      const quiet = await runCli([...args, '--quiet'], { timeoutMs: 120_000 });
      expect(quiet.code).toBe(0);
      expect(quiet.stderr).not.toContain('note: an agent is running here');
    } finally {
      await new Promise((r) => agent.close(r));
    }
  }, 240_000);
});
