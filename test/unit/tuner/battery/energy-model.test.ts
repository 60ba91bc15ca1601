import { describe, expect, it } from 'vitest';
import { averageWatts, candidateEnergy, maxRateWithin } from '../../../../src/tuner/battery/energy.js';
import { powerModelFor } from '../../../../src/tuner/battery/power-model.js';
import { drainWatts, remainingEnergy } from '../../../../src/tuner/battery/remaining.js';

describe('power model defaults', () => {
  it('per family, an x86 with a battery is a laptop, unknown families say they assume a Pi 4', () => {
    expect(powerModelFor('raspberry-pi-zero-2', false)).toMatchObject({
      idleW: 0.6,
      activeW: 3,
      family: 'raspberry-pi-zero-2',
    });
    expect(powerModelFor('jetson-orin-nano', false)).toMatchObject({ idleW: 4.5, activeW: 15 });
    expect(powerModelFor('x86', true)).toMatchObject({ family: 'x86-laptop', idleW: 5 });
    const unknown = powerModelFor('x86', false);
    expect(unknown.family).toBe('generic');
    expect(unknown.basis).toMatch(/no defaults for "x86"; Raspberry Pi 4 figures assumed/);
  });

  it('config overrides win and are named in the basis', () => {
    const m = powerModelFor('raspberry-pi-4', false, { idleW: 1.5, cameraW: 0.4 });
    expect(m).toMatchObject({ idleW: 1.5, activeW: 6.4, cameraW: 0.4 });
    expect(m.basis).toMatch(/overridden in config: idleW, cameraW/);
  });
});

describe('candidate energy', () => {
  const pi4 = powerModelFor('raspberry-pi-4', false);
  const c = {
    variant: 'v',
    executionProvider: 'cpu',
    threads: 2,
    fidelity: 1,
    latencyMs: 50,
    cpuMsPerInference: 80,
  };

  it('estimated from CPU time: (active − idle) / cores per busy core-second', () => {
    const e = candidateEnergy(c, pi4, 4);
    expect(e.joulesPerInference).toBeCloseTo(0.08 * (3.7 / 4), 6);
    expect(e.source).toBe('estimated');
  });

  it('measured: the sensor figure minus the idle draw during the inference, never below 0', () => {
    const e = candidateEnergy({ ...c, energyPerInferenceJ: 0.3 }, pi4, 4, { idleW: 2 });
    expect(e.joulesPerInference).toBeCloseTo(0.3 - 2 * 0.05, 6);
    expect(e.source).toBe('measured');
    expect(
      candidateEnergy({ ...c, energyPerInferenceJ: 0.05 }, pi4, 4, { idleW: 2 }).joulesPerInference,
    ).toBe(0);
  });

  it('the camera is on in continuous mode and pays a wake-up per frame in a duty cycle', () => {
    const e = candidateEnergy(c, pi4, 4);
    expect(averageWatts(e, 1)).toBeCloseTo(2.7 + 1 + e.joulesPerInference, 6);
    expect(averageWatts(e, 0.1)).toBeCloseTo(2.7 + (e.joulesPerInference + 1.5) * 0.1, 6);
    // The highest rate within a budget keeps the draw at or below it.
    for (const budget of [2.8, 3.0, 3.5, 3.8, 5]) {
      const r = maxRateWithin(e, budget, 20);
      expect(averageWatts(e, r)).toBeLessThanOrEqual(budget + 1e-9);
    }
    expect(maxRateWithin(e, 2.6, 20)).toBe(0);
  });
});

describe('remaining energy and drain', () => {
  it('energy_now first, else percent × power.batteryWh, else nothing', () => {
    expect(remainingEnergy({ energyWh: 36.1, energyFullWh: 54.9, percent: 64 }, 100)).toEqual({
      wh: 36.1,
      fullWh: 54.9,
      source: 'battery-energy',
    });
    expect(remainingEnergy({ percent: 50 }, 20)).toEqual({
      wh: 10,
      fullWh: 20,
      source: 'percent × power.batteryWh',
    });
    expect(remainingEnergy({ percent: 50 }, undefined)).toBeUndefined();
    expect(remainingEnergy(undefined, 20)).toBeUndefined();
  });

  it('the drain is the regression slope: noise on single readings moves it little', () => {
    const points = Array.from({ length: 31 }, (_, i) => ({
      timeMs: i * 60_000,
      // 4 W for 30 minutes, ±0.02 Wh reading noise
      wh: 50 - (4 * i) / 60 + (i % 2 === 0 ? 0.02 : -0.02),
    }));
    expect(drainWatts(points, 30 * 60_000, 30 * 60_000)).toBeCloseTo(4, 1);
    // Not enough history yet: no figure.
    expect(drainWatts(points.slice(0, 5), 30 * 60_000, 4 * 60_000)).toBeUndefined();
  });
});
