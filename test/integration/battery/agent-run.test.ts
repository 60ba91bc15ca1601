import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent.js';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { BatterySim } from '../../helpers/battery-sim.js';
import { REPO } from '../../helpers/paths.js';
import { squeezenetModels } from '../tuner/helpers.js';

async function until(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('the running agent on a (simulated) battery', { timeout: 240_000 }, () => {
  it('plans once the tuner has decided: the pipeline runs at the planned pacing; /api/battery and telemetry carry the plan', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-battery-agent-'));
    const sim = new BatterySim({ fullWh: 50, drawW: () => 4 });
    const config = parseConfig({
      dataDir: path.join(dir, 'data'),
      models: { dir: squeezenetModels({ fp16: false }), default: 'squeezenet1.1', variant: 'fp32' },
      inference: { threads: 1 },
      camera: { source: `images:${REPO}/samples`, fps: 15 },
      http: { port: 0 },
      mqtt: { embedded: { port: 0 } },
      log: { level: 'silent' },
      telemetry: { intervalS: 1 },
      hardware: { root: sim.root, sampler: { intervalMs: 300 } },
      power: { model: { idleW: 2.7, activeW: 6.4, cameraW: 1 } },
      policy: {
        latencyP95Ms: 10_000,
        // The plan for a known variant: no input-uint8 derivation of it, which may or may not
        // measure faster (docs/tuner.md, "A cheaper equal of the choice").
        derive: 'never',
        batteryHours: 12,
        tuning: {
          rounds: 1,
          runsPerRound: 3,
          warmupRuns: 1,
          maxThreads: 1,
          startDelayS: 0,
          fidelityFrames: 2,
        },
      },
    });
    const agent = new Agent({ config, log: silentLogger() });
    await agent.start();
    try {
      const url = agent.http!.url!;
      type Battery = {
        active: boolean;
        plan?: { chosen: { variant: string } | null; met: boolean; fps?: number };
        replans: Array<{ trigger: string }>;
      };
      let battery: Battery | undefined;
      await until(
        async () => {
          battery = (await (await fetch(`${url}/api/battery`)).json()) as Battery;
          return !!battery.plan?.chosen;
        },
        200_000,
        'a battery plan for the tuner’s choice',
      );
      expect(battery!.active).toBe(true);
      expect(battery!.plan).toMatchObject({ chosen: { variant: 'fp32' }, met: true });
      expect(battery!.replans.map((r) => r.trigger)).toContain('candidates');
      const pacing = agent.pipeline!.pacing;
      expect(pacing.mode === 'continuous' ? pacing.fps : undefined).toBe(battery!.plan!.fps);
      // The first records may carry the plan made before the tuner decided (nothing to run): wait for the new one.
      await until(
        () => String(agent.latestTelemetry()?.batteryPlan ?? '').startsWith('fp32'),
        20_000,
        'telemetry with the plan',
      );
      expect(agent.latestTelemetry()!.batteryPredictedHours).toBeGreaterThanOrEqual(12);
      expect(agent.latestTelemetry()!.batteryTargetHours).toBeCloseTo(12, 1);
    } finally {
      await agent.stop();
      sim.dispose();
    }
  });
});
