import { describe, expect, it } from 'vitest';
import { PowerModeTracker, telemetryHardware } from '../../../src/agent/hardware.js';
import { throttledProgress } from '../../../src/features/derive.js';
import type { LiveSample } from '../../../src/hardware/index.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const sample = (over: Partial<LiveSample>): LiveSample => ({
  timeMs: 0,
  powerSource: 'battery',
  temperaturesC: { 'cpu-thermal': 61.5 },
  throttled: false,
  throttleReasons: [],
  ...over,
});

describe('telemetryHardware', () => {
  it('passes the readings a device has and leaves the rest out', () => {
    expect(telemetryHardware(sample({ batteryPercent: 40, charging: false, powerW: 6.5 }))).toEqual({
      temperaturesC: { 'cpu-thermal': 61.5 },
      throttled: false,
      batteryPercent: 40,
      batteryCharging: false,
      powerW: 6.5,
    });
    expect(telemetryHardware(sample({}))).not.toHaveProperty('powerW');
    expect(telemetryHardware(undefined)).toBeUndefined();
  });
});

describe('PowerModeTracker', () => {
  it('follows the sampler with hysteresis', () => {
    const t = new PowerModeTracker();
    expect(t.current()).toBeUndefined();
    expect(t.update(sample({ batteryPercent: 19 }))).toBe('battery-low');
    expect(t.update(sample({ batteryPercent: 22 }))).toBe('battery-low');
    expect(t.update(sample({ batteryPercent: 30 }))).toBe('battery');
    expect(t.update(sample({ powerSource: 'mains' }))).toBe('mains');
    expect(t.update(undefined)).toBe('mains');
  });
});

describe('throttledProgress', () => {
  it('passes stage changes and stage ends, and at most one update a second otherwise', async () => {
    const clock = new FakeClock(0);
    const out: Array<Record<string, unknown>> = [];
    const progress = throttledProgress((d) => out.push(d), clock);
    progress({ stage: 'calibrate', done: 0, total: 100 });
    for (let i = 1; i < 100; i++) {
      await clock.advance(10);
      progress({ stage: 'calibrate', done: i, total: 100 });
    }
    progress({ stage: 'calibrate', done: 100, total: 100 });
    progress({ stage: 'fidelity', done: 0, total: 4 });
    await clock.advance(1000);
    progress({ stage: 'fidelity', done: 1, total: 4 });
    // 99 updates over 0.99 s: only the first, the end of the stage, and the next stage's start.
    expect(out.map((d) => `${d.stage}:${d.done}`)).toEqual([
      'calibrate:0',
      'calibrate:100',
      'fidelity:0',
      'fidelity:1',
    ]);
  });
});
