import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { LiveSampler } from '../../../src/hardware/sampler.js';
import type { DeviceProfile } from '../../../src/hardware/schema.js';
import { createLogger } from '../../../src/log.js';
import type { PipelineStats } from '../../../src/pipeline/types.js';
import { batteryReadings, createAgentBattery } from '../../../src/tuner/battery/agent-battery.js';
import { LivePowerMonitor } from '../../../src/tuner/battery/live-power-monitor.js';
import type { Decision } from '../../../src/tuner/types.js';
import { BatterySim } from '../../helpers/battery-sim.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/**
 * The energy model measured in the running agent, on the x86-laptop fixture tree: the test writes
 * the battery's power_now (or advances the RAPL counters) as a device with known figures would,
 * under a fake clock; the real sampler reads them, the monitor pairs them with the pipeline's
 * camera state and inference counter, the planner plans from them.
 */

// The device's truth: idle 4 W with the camera released, the camera adds 1.5 W, 0.8 J per inference.
const IDLE = 4;
const CAMERA = 1.5;
const J = 0.8;
const truthW = (camera: boolean, fps: number) => (camera ? IDLE + CAMERA + J * fps : IDLE);

const measured = (variant: string, ms: number, fidelity: number) => ({
  variant,
  executionProvider: 'cpu',
  threads: 1,
  variantSha256: variant,
  sizeBytes: 1,
  precision: 'fp32',
  status: 'ok' as const,
  latencyMs: { p50: ms, p95: ms, p99: ms, mean: ms, roundP95: [ms] },
  cpuMsPerInference: ms,
  fidelity,
  verdict: 'chosen' as const,
  reason: '',
});
const decision = {
  decidedAt: 1,
  chosen: { variant: 'int8', executionProvider: 'cpu', threads: 1 },
  candidates: [measured('int8', 60, 0.96)],
} as unknown as Decision;

/** A pipeline as the monitor sees it: the test scripts what it does (camera, inferences, pacing). */
class ScriptedPipeline {
  camera: 'online' | 'stopped' = 'stopped';
  sinceMs = 0;
  processed = 0;
  pacing = 'paused';
  fps = 0;
  setPacings = 0;
  setPacing(): void {
    this.setPacings++;
  }
  phase(camera: 'online' | 'stopped', fps: number, pacing: string, nowMs: number): void {
    if (camera !== this.camera) this.sinceMs = nowMs;
    Object.assign(this, { camera, fps, pacing });
  }
  stats(): Pick<PipelineStats, 'camera' | 'counters' | 'pacing'> {
    return {
      camera: { state: this.camera, sinceMs: this.sinceMs } as PipelineStats['camera'],
      counters: { processed: this.processed } as PipelineStats['counters'],
      pacing: { description: this.pacing } as PipelineStats['pacing'],
    };
  }
}

const sims: BatterySim[] = [];
afterEach(() => {
  for (const s of sims.splice(0)) s.dispose();
});

describe('energy measured in the running agent (fixture power files, fake clock)', {
  timeout: 60_000,
}, () => {
  it('a laptop on battery: idle while the camera is released, the camera-on draw at two rates → the plan becomes measured', async () => {
    const pipeline = new ScriptedPipeline();
    const sim = new BatterySim({
      fullWh: 100,
      drawW: () => truthW(pipeline.camera === 'online', pipeline.fps),
    });
    sims.push(sim);
    const clock = new FakeClock();
    const config = parseConfig({ hardware: { root: sim.root }, policy: { batteryHours: 12 } });
    const sampler = new LiveSampler({ root: sim.root, clock, family: 'x86', options: { intervalMs: 5000 } });
    const events: Array<Record<string, unknown>> = [];
    const battery = createAgentBattery({
      config,
      profile: async () => ({ board: { family: 'x86' }, cpu: { cores: 4 } }) as unknown as DeviceProfile,
      pipeline,
      sampler,
      decision: () => decision,
      events: { emit: (_t, d) => events.push(d) },
      clock,
      log: createLogger({ level: 'silent' }),
    })!;
    const abort = new AbortController();
    battery.start(abort.signal);
    const step = async () => {
      sim.advance(5000);
      await clock.advance(5000);
      pipeline.processed += pipeline.fps * 5;
      await sampler.sampleOnce();
    };
    await sampler.sampleOnce();
    // 2 minutes idle (camera released, nothing inferred), then 2 minutes at 2 fps, 2 at 5 fps.
    for (let i = 0; i < 24; i++) await step();
    pipeline.phase('online', 2, '2 fps', clock.now());
    for (let i = 0; i < 24; i++) await step();
    pipeline.phase('online', 5, '5 fps', clock.now());
    for (let i = 0; i < 24; i++) await step();
    await step();
    abort.abort();
    await battery.stop();

    const plans = events.filter((e) => e.plan) as Array<{
      trigger: string;
      plan: {
        energy: {
          source: string;
          idleWatts: number;
          joulesPerInference: number;
          cameraWatts: number;
          basis: string;
        };
      };
    }>;
    // The first plan (before anything was measured) is estimated from the x86-laptop power model.
    expect(plans[0]!.trigger).toBe('on-battery');
    expect(plans[0]!.plan.energy.source).toBe('estimated');
    expect(plans[0]!.plan.energy.idleWatts).toBe(5);
    // Each newly measured figure re-planned; the last plan is measured, with the device's figures.
    const last = plans[plans.length - 1]!;
    expect(last.trigger).toBe('candidates');
    expect(last.plan.energy.source).toBe('measured');
    expect(last.plan.energy.idleWatts).toBeCloseTo(IDLE, 2);
    expect(last.plan.energy.joulesPerInference).toBeCloseTo(J, 2);
    expect(last.plan.energy.cameraWatts).toBeCloseTo(CAMERA, 2);
    expect(last.plan.energy.basis).toMatch(/^power sensor \(idle, camera, J\/inference measured\)/);
    const status = battery.status();
    expect(status.measuredPower?.idleW).toBeCloseTo(IDLE, 2);
    expect(batteryReadings(status).batteryPlan?.energySource).toBe('measured');
    // The rate: what the budget leaves above the measured idle + camera, at the measured J.
    const rec = last as unknown as { remainingWh: number; plan: { fps: number; targetHours: number } };
    const budgetW = rec.remainingWh / rec.plan.targetHours;
    expect(rec.plan.fps).toBeCloseTo((budgetW - IDLE - CAMERA) / J, 1);
  });

  it('RAPL counters only (on mains: no whole-device figure): J per inference from the CPU package slope, nothing else', async () => {
    const pipeline = new ScriptedPipeline();
    const sim = new BatterySim({ fullWh: 60, drawW: () => 10 });
    sims.push(sim);
    sim.setMains(true);
    const clock = new FakeClock();
    const sampler = new LiveSampler({ root: sim.root, clock, family: 'x86', options: { intervalMs: 5000 } });
    const monitor = new LivePowerMonitor({
      sampler,
      pipeline,
      candidate: () => 'int8@cpu/1t',
    });
    monitor.start();
    // psys (the platform) counts 2 W + 0.3 J per inference; the sampler prefers it over the package.
    const PSYS = '/sys/class/powercap/intel-rapl:1/energy_uj';
    let uj = Number(sim.tree.read(PSYS));
    const step = async () => {
      uj += (2 + 0.3 * pipeline.fps) * 5 * 1e6;
      sim.tree.write(PSYS, Math.round(uj));
      await clock.advance(5000);
      pipeline.processed += pipeline.fps * 5;
      await sampler.sampleOnce();
    };
    await sampler.sampleOnce();
    pipeline.phase('online', 2, '2 fps', clock.now());
    for (let i = 0; i < 12; i++) await step();
    pipeline.phase('online', 6, '6 fps', clock.now());
    for (let i = 0; i < 12; i++) await step();
    monitor.stop();
    const live = monitor.live();
    expect(live.joulesFrom).toBe('rapl-fit');
    expect(live.joulesPerInference).toBeCloseTo(0.3, 3);
    expect(live.idleW).toBeUndefined();
    expect(monitor.measured()).toEqual({ joulesPerInference: live.joulesPerInference });
    // Stopped: no more observations.
    const before = monitor.live().groups.map((g) => g.seconds);
    await step();
    expect(monitor.live().groups.map((g) => g.seconds)).toEqual(before);
  });
});
