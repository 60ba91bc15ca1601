import { describe, expect, it } from 'vitest';
import type { LiveSample } from '../../../../src/hardware/sample.js';
import { candidateEnergy, type PlanCandidate } from '../../../../src/tuner/battery/energy.js';
import {
  fitLivePower,
  measuredPowerOf,
  type PowerObservation,
} from '../../../../src/tuner/battery/live-power.js';
import { LivePowerMonitor } from '../../../../src/tuner/battery/live-power-monitor.js';
import { planBatteryLife } from '../../../../src/tuner/battery/planner.js';
import { powerModelFor } from '../../../../src/tuner/battery/power-model.js';

// A device that truly idles at 3 W, whose camera adds 1.2 W, and whose inference costs 0.5 J above idle.
const IDLE = 3;
const CAMERA = 1.2;
const J = 0.5;
const pi4 = powerModelFor('raspberry-pi-4', false);
const int8: PlanCandidate = {
  variant: 'int8',
  executionProvider: 'cpu',
  threads: 1,
  fidelity: 0.96,
  latencyMs: 60,
  cpuMsPerInference: 60,
};

/** A timeline of 5 s samples: each phase gives the camera phase, the rate, the draw. */
function timeline(
  phases: Array<{
    seconds: number;
    camera: 'on' | 'off';
    fps: number;
    pacing: string;
    cpu?: boolean;
    device?: boolean;
  }>,
): PowerObservation[] {
  const obs: PowerObservation[] = [];
  let t = 0;
  let processed = 0;
  let since = 0;
  let last: string | undefined;
  for (const p of phases) {
    if (p.camera !== last) since = t;
    last = p.camera;
    for (let s = 0; s < p.seconds; s += 5) {
      const w = p.camera === 'on' ? IDLE + CAMERA + J * p.fps : IDLE;
      obs.push({
        timeMs: t,
        ...(p.device !== false ? { deviceW: w, deviceSensor: 'battery' } : {}),
        ...(p.cpu ? { cpuW: 1 + 0.3 * p.fps } : {}),
        camera: p.camera,
        cameraSinceMs: since,
        processed,
        pacing: p.pacing,
        candidate: 'int8@cpu/1t',
      });
      t += 5000;
      processed += p.fps * 5;
    }
  }
  return obs;
}

describe('the energy model measured in the running agent (live-power, pure)', () => {
  it('idle from camera-released gaps, J and the camera from the slope across two rates: the plan is measured', () => {
    const obs = timeline([
      { seconds: 60, camera: 'off', fps: 0, pacing: 'paused' },
      { seconds: 120, camera: 'on', fps: 2, pacing: '2 fps' },
      { seconds: 120, camera: 'on', fps: 6, pacing: '6 fps' },
    ]);
    const live = fitLivePower(obs, 'int8@cpu/1t');
    expect(live.sensor).toBe('battery');
    expect(live.idleW).toBeCloseTo(IDLE, 6);
    expect(live.joulesPerInference).toBeCloseTo(J, 6);
    expect(live.joulesFrom).toBe('device-fit');
    expect(live.onBaseW).toBeCloseTo(IDLE + CAMERA, 6);
    const e = candidateEnergy(int8, pi4, 4, measuredPowerOf(live));
    expect(e).toMatchObject({ source: 'measured', idleSource: 'measured', cameraSource: 'measured' });
    expect(e.cameraW).toBeCloseTo(CAMERA, 6);
    const plan = planBatteryLife({
      candidates: [int8],
      targetHours: 12,
      remainingWh: 60,
      power: pi4,
      cores: 4,
      measured: measuredPowerOf(live),
    });
    expect(plan.energy.source).toBe('measured');
    expect(plan.energy.idleWatts).toBeCloseTo(IDLE, 3);
    expect(plan.energy.joulesPerInference).toBeCloseTo(J, 3);
    // 60 Wh / 12 h = 5 W = 3 + 1.2 + 0.5 × fps → 1.6 fps
    expect(plan.fps).toBeCloseTo(1.6, 2);
    expect(plan.energy.basis).toMatch(/^power sensor \(idle, camera, J\/inference measured\)/);
  });

  it('one rate only: idle and the camera-on draw are measured, J stays estimated (the plan says so)', () => {
    const obs = timeline([
      { seconds: 60, camera: 'off', fps: 0, pacing: 'paused' },
      { seconds: 120, camera: 'on', fps: 2, pacing: '2 fps' },
    ]);
    const live = fitLivePower(obs, 'int8@cpu/1t');
    expect(live.joulesPerInference).toBeUndefined();
    expect(live.cameraOn).toMatchObject({ ratePerS: 2 });
    const m = measuredPowerOf(live);
    const e = candidateEnergy(int8, pi4, 4, m);
    expect(e).toMatchObject({ idleSource: 'measured', joulesSource: 'estimated', source: 'estimated' });
    // What the camera-on draw leaves once idle and the (estimated) inferences are taken out.
    expect(e.cameraW).toBeCloseTo(IDLE + CAMERA + J * 2 - IDLE - e.joulesPerInference * 2, 6);
    const plan = planBatteryLife({
      candidates: [int8],
      targetHours: 12,
      remainingWh: 60,
      power: pi4,
      cores: 4,
      measured: m,
    });
    expect(plan.energy.source).toBe('estimated');
    expect(plan.energy.basis).toMatch(/^idle, camera measured; /);
  });

  it('RAPL only (no whole-device sensor): J from the CPU package slope; idle stays estimated', () => {
    const obs = timeline([
      { seconds: 120, camera: 'on', fps: 2, pacing: '2 fps', cpu: true, device: false },
      { seconds: 120, camera: 'on', fps: 6, pacing: '6 fps', cpu: true, device: false },
    ]);
    const live = fitLivePower(obs, 'int8@cpu/1t');
    expect(live.joulesPerInference).toBeCloseTo(0.3, 6);
    expect(live.joulesFrom).toBe('rapl-fit');
    expect(live.idleW).toBeUndefined();
    const e = candidateEnergy(int8, pi4, 4, measuredPowerOf(live));
    expect(e).toMatchObject({ joulesSource: 'measured', idleSource: 'estimated', source: 'estimated' });
  });

  it('a duty cycle: idle from the gaps, the energy of one wake-up frame from the intervals that hold one', () => {
    // Every 20 s the camera wakes for a frame; the sampler (5 s) sees the interval [t, t+5] hold a
    // wake (camera start, warm-up, one inference).
    const obs: PowerObservation[] = [];
    let processed = 0;
    let since = 0;
    for (let i = 0; i < 80; i++) {
      const t = i * 5000;
      const wakeInside = i % 4 === 0; // the interval ending at this sample held a wake-up
      if (wakeInside && i > 0) {
        processed++;
        since = t - 1000; // the camera stopped again 1 s before the sample
      }
      obs.push({
        timeMs: t,
        deviceW: IDLE,
        deviceSensor: 'ina3221',
        camera: 'off',
        cameraSinceMs: since,
        processed,
        pacing: 'every 20 s',
        candidate: 'int8@cpu/1t',
      });
    }
    // The power reading right after each wake-up is 0.8 W above idle: by trapezoids, 2 J in the
    // wake interval and 2 J in the next: 4 J per frame, and the median idle is untouched.
    for (let i = 4; i < 80; i += 4) obs[i]!.deviceW = IDLE + 0.8;
    const live = fitLivePower(obs, 'int8@cpu/1t', { minIdleS: 30, minGroupS: 30, minDutyFrames: 3 });
    expect(live.dutyFrames).toBe(19);
    expect(live.idleW).toBeCloseTo(IDLE, 6);
    expect(live.dutyFrameJ).toBeCloseTo(4, 6);
    const e = candidateEnergy(int8, pi4, 4, measuredPowerOf(live));
    expect(e.dutySource).toBe('measured');
    expect(e.wakeJ).toBeCloseTo(Math.max(0, live.dutyFrameJ! - e.joulesPerInference), 6);
  });

  it('no sensor at all: nothing measured, the plan stays estimated from the power model', () => {
    const obs = timeline([
      { seconds: 60, camera: 'off', fps: 0, pacing: 'paused', device: false },
      { seconds: 120, camera: 'on', fps: 2, pacing: '2 fps', device: false },
      { seconds: 120, camera: 'on', fps: 6, pacing: '6 fps', device: false },
    ]);
    const live = fitLivePower(obs, 'int8@cpu/1t');
    expect(measuredPowerOf(live)).toEqual({});
    const plan = planBatteryLife({
      candidates: [int8],
      targetHours: 12,
      remainingWh: 60,
      power: pi4,
      cores: 4,
      measured: measuredPowerOf(live),
    });
    expect(plan.energy.source).toBe('estimated');
    expect(plan.energy.basis).toBe(pi4.basis);
  });

  it("another candidate's rates do not make this one's slope; a pacing change inside an interval is skipped", () => {
    const obs = timeline([
      { seconds: 120, camera: 'on', fps: 2, pacing: '2 fps' },
      { seconds: 120, camera: 'on', fps: 6, pacing: '6 fps' },
    ]);
    expect(fitLivePower(obs, 'fp32@cpu/1t').joulesPerInference).toBeUndefined();
    expect(fitLivePower(obs, 'int8@cpu/1t').groups.map((g) => g.pacing)).toEqual(['2 fps', '6 fps']);
  });
});

describe('LivePowerMonitor (the agent side)', () => {
  it('pairs each sample with the pipeline; a figure once measured stays when the window forgets it', () => {
    let listener: ((s: LiveSample) => void) | undefined;
    const sampler = {
      on: (_e: 'sample', l: (s: LiveSample) => void) => {
        listener = l;
        return () => {
          listener = undefined;
        };
      },
    };
    const p = { camera: 'stopped', since: 0, processed: 0, pacing: 'paused' };
    const monitor = new LivePowerMonitor({
      sampler,
      pipeline: {
        stats: () =>
          ({
            camera: { state: p.camera, sinceMs: p.since },
            counters: { processed: p.processed },
            pacing: { description: p.pacing },
          }) as never,
      },
      candidate: () => 'int8@cpu/1t',
      maxObservations: 20,
    });
    monitor.start();
    let t = 0;
    const sample = (w: number) => {
      listener?.({
        timeMs: t,
        powerSource: 'battery',
        batteryPowerW: w,
        temperaturesC: {},
        throttled: false,
        throttleReasons: [],
      });
      t += 5000;
    };
    for (let i = 0; i < 10; i++) sample(IDLE);
    expect(monitor.measured().idleW).toBeCloseTo(IDLE, 6);
    // Ten minutes camera on: the idle gaps leave the 20-sample window, the idle figure stays.
    Object.assign(p, { camera: 'online', since: t, pacing: '2 fps' });
    for (let i = 0; i < 120; i++) {
      p.processed += 10;
      sample(IDLE + CAMERA + J * 2);
    }
    expect(monitor.live().idleW).toBeUndefined();
    const m = monitor.measured();
    expect(m.idleW).toBeCloseTo(IDLE, 6);
    expect(m.cameraOn).toMatchObject({ ratePerS: 2 });
    monitor.stop();
    expect(listener).toBeUndefined();
  });
});
