import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/cli.js';
import { squeezenetModels } from '../tuner/helpers.js';

describe('edge-agent plan', { timeout: 300_000 }, () => {
  it('--json has exactly the documented shape; an unreachable target says so and exits 3', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'plan-cli-'));
    const config = path.join(dir, 'agent.config.json');
    writeFileSync(
      config,
      JSON.stringify({
        dataDir: path.join(dir, 'data'),
        models: { dir: squeezenetModels({ fp16: false }), default: 'squeezenet1.1' },
        policy: { tuning: { rounds: 2, runsPerRound: 3, warmupRuns: 1, maxThreads: 1, fidelityFrames: 2 } },
        // A Pi 4-like power model whatever this machine is.
        power: { model: { idleW: 2.7, activeW: 6.4, cameraW: 1 } },
      }),
    );
    const run = await runCli(['plan', '--config', config, '--hours', '12', '--wh', '50', '--json'], {
      timeoutMs: 240_000,
    });
    expect(run.stderr).toMatch(/round 2\/2/);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(Object.keys(out).sort()).toEqual(
      [
        'energy',
        'executionProvider',
        'met',
        'predictedHours',
        'reason',
        'targetHours',
        'threads',
        'variant',
        'fps',
      ].sort(),
    );
    expect(Object.keys(out.energy).sort()).toEqual([
      'idleWatts',
      'joulesPerInference',
      'remainingWh',
      'source',
    ]);
    expect(out).toMatchObject({
      variant: 'fp32',
      executionProvider: 'cpu',
      threads: 1,
      targetHours: 12,
      met: true,
    });
    expect(out.energy).toMatchObject({ source: 'estimated', idleWatts: 2.7, remainingWh: 50 });
    expect(out.predictedHours).toBeGreaterThanOrEqual(12);
    expect(out.fps).toBeGreaterThan(0);

    // 48 h on 50 Wh is below the 2.7 W idle draw: not reachable, said plainly (from the cache: no re-measure).
    const far = await runCli(['plan', '--config', config, '--hours', '48', '--wh', '50'], {
      timeoutMs: 120_000,
    });
    expect(far.code).toBe(3);
    expect(far.stderr).toMatch(/0 candidate\(s\)|1 cached/);
    expect(far.stdout).toMatch(/target NOT met/);
    expect(far.stdout).toMatch(/cannot last 48 h on 50 Wh: the best is 18\.\d h/);
    expect(far.stdout).toMatch(/ESTIMATED/);
  });

  it('without --hours or policy.batteryHours it is a usage error', async () => {
    const run = await runCli(['plan', '--wh', '10'], { timeoutMs: 60_000 });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/--hours N is required/);
  });
});
