import { afterEach, describe, expect, it } from 'vitest';
import type { TuneProgress } from '../../../src/tuner/measure.js';
import { MeasureProcess } from '../../../src/tuner/measure-process.js';
import { squeezenetModels, type TunerRig, tunerRig } from './helpers.js';

const rigs: TunerRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

describe('a real tune of squeezenet1.1', () => {
  it('measures fp32 and fp16 × 1, 2 threads in child processes, chooses, and a second run reads the cache', async () => {
    const models = squeezenetModels();
    const rig = await tunerRig(models, { policy: { latencyP95Ms: 10_000 } });
    rigs.push(rig);
    const progress: TuneProgress[] = [];
    const spawned: number[] = [];
    const spawn = () => {
      const p = MeasureProcess.spawn();
      if (p.pid) spawned.push(p.pid);
      return p;
    };
    const first = await rig.tuner.tune({
      model: 'squeezenet1.1',
      onProgress: (p) => progress.push(p),
      derive: 'never',
    });
    expect(first.met).toBe(true);
    expect(first.candidates).toHaveLength(4);
    for (const c of first.candidates) {
      expect(c.status).toBe('ok');
      expect(c.cached).toBeUndefined();
      expect(c.latencyMs!.p50).toBeGreaterThan(0);
      expect(c.latencyMs!.p95).toBeGreaterThanOrEqual(c.latencyMs!.p50);
      expect(c.latencyMs!.p99).toBeGreaterThanOrEqual(c.latencyMs!.p95);
      expect(c.latencyMs!.roundP95).toHaveLength(2);
      expect(c.runs).toBe(8);
      expect(c.cpuMsPerInference).toBeGreaterThan(0);
      expect(c.memoryBytes).toBeGreaterThan(1_000_000);
      expect(c.sessionCreateMs).toBeGreaterThan(0);
      // Each run prepared the frame as the pipeline does: gbrp planes into the NCHW float tensor.
      expect(c.preparePath).toBe('planes');
      expect(c.prepareMs).toBeGreaterThan(0);
      expect(c.prepareMs).toBeLessThan(c.latencyMs!.mean);
      expect(c.energyPerInferenceJ).toBeUndefined(); // the container fixture has no power sensor
    }
    const fp16 = first.candidates.find((c) => c.variant === 'fp16')!;
    expect(fp16.fidelitySource).toBe('measured');
    expect(fp16.fidelity).toBeGreaterThan(0.7);
    expect(first.candidates.find((c) => c.variant === 'fp32')!.fidelitySource).toBe('reference');
    // max-accuracy: fp32 (fidelity 1) unless fp16 agrees on every frame too.
    expect(first.chosen).not.toBeNull();
    expect(first.pareto.length).toBeGreaterThan(0);
    expect(progress.filter((p) => p.stage === 'round')).toHaveLength(8);
    expect(rig.store.decisions.latest()?.variant).toBe(first.chosen!.variant);

    // A new tuner over the same database (a restart): nothing is measured again.
    const again = await tunerRig(models, { dataDir: rig.dataDir, deps: { spawn } });
    rigs.push(again);
    const second = await again.tuner.tune({ model: 'squeezenet1.1', derive: 'never' });
    expect(spawned).toEqual([]);
    expect(second.candidates.every((c) => c.cached === true)).toBe(true);
    expect(second.candidates.map((c) => c.latencyMs!.p95)).toEqual(
      first.candidates.map((c) => c.latencyMs!.p95),
    );
    expect(second.chosen).toEqual(first.chosen);
  }, 240_000);

  it('marks a broken model file failed with its error and still completes', async () => {
    const rig = await tunerRig(squeezenetModels({ broken: true }), {
      policy: {
        latencyP95Ms: 10_000,
        tuning: { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1, fidelityFrames: 2 },
      },
    });
    rigs.push(rig);
    const d = await rig.tuner.tune({ model: 'squeezenet1.1', variants: ['fp32', 'broken'], derive: 'never' });
    const broken = d.candidates.find((c) => c.variant === 'broken')!;
    expect(broken.status).toBe('failed');
    expect(broken.verdict).toBe('failed');
    expect(broken.error).toMatch(/protobuf|parse|load|model/i);
    expect(d.chosen?.variant).toBe('fp32');
    expect(d.met).toBe(true);
  }, 120_000);
});

describe('deriving when nothing fits', () => {
  it('derives a helper in a child process, measures it and says plainly that nothing meets an impossible budget', async () => {
    const rig = await tunerRig(squeezenetModels(), {
      policy: {
        latencyP95Ms: 0.01,
        tuning: { rounds: 1, runsPerRound: 2, warmupRuns: 0, maxThreads: 1, fidelityFrames: 2 },
      },
    });
    rigs.push(rig);
    const d = await rig.tuner.tune({ model: 'squeezenet1.1', variants: ['fp32'], deriveMethods: ['clean'] });
    expect(d.derived).toEqual(['fp32_clean']);
    const clean = d.candidates.find((c) => c.variant === 'fp32_clean')!;
    expect(clean.status).toBe('ok');
    expect(clean.fidelitySource).toBe('recorded');
    expect(d.met).toBe(false);
    expect(d.reason).toMatch(/^nothing meets the constraints; closest is /);
    // never: no derivation
    const again = await rig.tuner.tune({ model: 'squeezenet1.1', variants: ['fp32'], derive: 'never' });
    expect(again.derived).toEqual([]);
  }, 180_000);
});
