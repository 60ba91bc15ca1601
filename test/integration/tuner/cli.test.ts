import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { addHugeVariant, squeezenetModels } from './helpers.js';

describe('edge-agent tune', () => {
  it('--json has the documented shape and --plot writes both charts with the front and the choice', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tune-cli-'));
    const config = path.join(dir, 'agent.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: path.join(dir, 'data'),
        models: { dir: squeezenetModels(), default: 'squeezenet1.1' },
        policy: { tuning: { rounds: 2, runsPerRound: 3, warmupRuns: 1, maxThreads: 1, fidelityFrames: 2 } },
      }),
    );
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
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tune-cli-mem-'));
    const models = squeezenetModels({ fp16: false });
    addHugeVariant(models);
    const config = path.join(dir, 'agent.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: path.join(dir, 'data'),
        models: { dir: models, default: 'squeezenet1.1' },
        policy: { tuning: { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1 } },
      }),
    );
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
});
