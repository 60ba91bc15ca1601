import { afterEach, describe, expect, it } from 'vitest';
import type { Clock } from '../../../src/clock.js';
import {
  LiveSampler,
  type SamplerEventName,
  type SamplerEvents,
  type SamplerOptions,
} from '../../../src/hardware/sampler.js';
import { type FixtureTree, TreeCopy } from '../../helpers/hardware.js';

/** A clock the test moves by hand; sleeps resolve when it is advanced past them. */
class ManualClock implements Clock {
  t = 1_700_000_000_000;
  private sleepers: Array<{ until: number; resolve: () => void }> = [];
  now = () => this.t;
  sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const entry = { until: this.t + ms, resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        'abort',
        () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })),
        { once: true },
      );
    });
  advance(ms: number): void {
    this.t += ms;
    for (const s of this.sleepers.filter((x) => x.until <= this.t)) s.resolve();
    this.sleepers = this.sleepers.filter((x) => x.until > this.t);
  }
}

const copies: TreeCopy[] = [];
afterEach(() => {
  for (const c of copies.splice(0)) c.dispose();
});

function setup(tree: FixtureTree, options: Partial<SamplerOptions> = {}) {
  const copy = new TreeCopy(tree);
  copies.push(copy);
  const clock = new ManualClock();
  const sampler = new LiveSampler({ root: copy.root, clock, options: { intervalMs: 1000, ...options } });
  const events: Array<{ name: SamplerEventName; event: SamplerEvents[SamplerEventName] }> = [];
  for (const name of ['power-source', 'battery', 'throttling', 'memory-pressure'] as const) {
    sampler.on(name, (event) => events.push({ name, event }));
  }
  /** Rewrites files, moves the clock, takes a sample. */
  const step = async (ms: number, files: Record<string, string | number> = {}) => {
    for (const [f, v] of Object.entries(files)) copy.write(f, v);
    clock.advance(ms);
    return sampler.sampleOnce();
  };
  return { copy, clock, sampler, events, step };
}

const summary = (events: ReturnType<typeof setup>['events']) =>
  events.map(({ name, event }) => {
    const e = event as unknown as Record<string, unknown>;
    return [name, e.to ?? e.direction ?? e.active, e.thresholdPercent]
      .filter((x) => x !== undefined)
      .join(':');
  });

describe('LiveSampler', () => {
  it('integrates RAPL energy across a counter wrap (x86 laptop)', async () => {
    const { step, sampler } = setup('x86-laptop');
    const max = 262143328850;
    const psys = '/sys/class/powercap/intel-rapl:1/energy_uj';
    await step(0, { [psys]: max - 2_000_000 });
    const s1 = await step(1000, { [psys]: 3_000_000 }); // wrapped: 2 J + 3 J
    expect(s1).toMatchObject({
      powerW: 5,
      powerSensor: 'rapl',
      powerSource: 'battery',
      batteryPercent: 64,
      batteryPowerW: 9.853,
    });
    const s2 = await step(2000, { [psys]: 17_000_000 }); // 14 J in 2 s
    expect(s2.powerW).toBe(7);
    expect(sampler.energyJ(60_000)).toEqual({
      joules: 19,
      method: 'rapl-counter',
      coveredMs: 3000,
      intervals: 2,
    });
    // Only the last second of the 2-second interval.
    expect(sampler.energyJ(1000)?.joules).toBeCloseTo(7, 6);
    expect(sampler.history()).toHaveLength(3);
  });

  it('integrates INA3221 power when the board has it (Jetson Orin Nano)', async () => {
    const { step, sampler } = setup('jetson-orin-nano');
    const curr = '/sys/class/hwmon/hwmon1/curr1_input';
    const volt = '/sys/class/hwmon/hwmon1/in1_input';
    await step(0, { [volt]: 5000, [curr]: 1000 }); // 5 W
    await step(1000, { [curr]: 2000 }); // 10 W
    const s = await step(1000, { [curr]: 2000 });
    expect(s).toMatchObject({ powerW: 10, powerSensor: 'ina3221', powerSource: 'mains', throttled: false });
    expect(s.temperaturesC).toMatchObject({ 'cpu-thermal': 48.5, 'tj-thermal': 48.5 });
    expect(sampler.energyJ(10_000)).toEqual({
      joules: 7.5 + 10,
      method: 'power-integral',
      coveredMs: 2000,
      intervals: 2,
    });
  });

  it('announces battery thresholds once, with hysteresis, and power-source changes after they hold', async () => {
    const { step, events, sampler } = setup('x86-laptop');
    const cap = '/sys/class/power_supply/BAT0/capacity';
    await step(0, { [cap]: 55 });
    for (const level of [49, 51, 49, 52, 49.5, 53]) await step(1000, { [cap]: Math.round(level) });
    expect(summary(events)).toEqual(['battery:below:50', 'battery:above:50']);
    events.length = 0;

    await step(1000, { [cap]: 19 });
    for (const level of [21, 19, 22, 20]) await step(1000, { [cap]: level });
    expect(summary(events)).toEqual(['battery:below:50', 'battery:below:20']);
    expect(sampler.state().batteryBelowPercent).toBe(20);
    events.length = 0;

    // Charger plugged in: one glitchy sample, then it holds.
    const plug = {
      '/sys/class/power_supply/AC/online': 1,
      '/sys/class/power_supply/BAT0/status': 'Charging\n',
    };
    const unplug = {
      '/sys/class/power_supply/AC/online': 0,
      '/sys/class/power_supply/BAT0/status': 'Discharging\n',
    };
    await step(1000, plug);
    await step(1000, unplug);
    expect(events).toEqual([]);
    await step(1000, plug);
    const s = await step(1000, plug);
    expect(summary(events)).toEqual(['power-source:mains']);
    expect(s).toMatchObject({ powerSource: 'mains', charging: true });
    expect(sampler.state().powerSource).toBe('mains');
  });

  it('announces throttling start and stop without flapping (Raspberry Pi 5)', async () => {
    const { step, events, sampler } = setup('raspberry-pi-5');
    const cmd = '/.commands/vcgencmd_get_throttled.txt';
    const hot = { [cmd]: 'throttled=0x60006\n' };
    const cool = { [cmd]: 'throttled=0x60000\n' };
    // Alternating readings never hold long enough.
    for (const f of [cool, hot, cool, hot, cool]) await step(1000, f);
    expect(events).toEqual([]);
    await step(1000, hot);
    const s = await step(1000, hot);
    expect(s).toMatchObject({
      throttled: true,
      throttleReasons: ['ARM frequency capped', 'throttled by the firmware'],
      powerSensor: 'pmic',
    });
    expect(events.map((e) => e.name)).toEqual(['throttling']);
    expect(events[0]?.event).toMatchObject({
      active: true,
      reasons: ['ARM frequency capped', 'throttled by the firmware'],
    });
    for (const f of [cool, cool, hot, cool, cool]) await step(1000, f);
    expect(events).toHaveLength(1);
    await step(1000, cool);
    expect(summary(events)).toEqual(['throttling:true', 'throttling:false']);
    expect(sampler.state().throttled).toBe(false);
  });

  it('sees a CPU frequency cap as throttling', async () => {
    const { step } = setup('jetson-orin-nano');
    expect((await step(0)).throttled).toBe(false);
    const s = await step(1000, { '/sys/devices/system/cpu/cpu3/cpufreq/scaling_max_freq': 729600 });
    expect(s.throttleReasons).toEqual(['CPU max frequency capped on 1 CPU']);
  });

  it('announces memory pressure inside the cgroup budget with enter/exit levels (container)', async () => {
    const { step, events, sampler } = setup('x86-container');
    const cur = '/sys/fs/cgroup/memory.current';
    const inactive = 41943040;
    const usedPercent = (p: number) => Math.round((p / 100) * 1024 ** 3 + inactive);
    const first = await step(0, { [cur]: usedPercent(50) });
    expect(first).toMatchObject({ budgetBytes: 1024 ** 3, availablePercent: 50 });
    for (const used of [91, 88, 85, 81]) await step(1000, { [cur]: usedPercent(used) });
    expect(summary(events)).toEqual(['memory-pressure:true']);
    expect(sampler.state().memoryPressure).toBe(true);
    await step(1000, { [cur]: usedPercent(79) });
    expect(summary(events)).toEqual(['memory-pressure:true', 'memory-pressure:false']);
  });

  it('computes CPU load between samples', async () => {
    const { step } = setup('x86-container');
    expect(
      (await step(0, { '/proc/stat': 'cpu  1000 0 1000 8000 0 0 0 0 0 0\n' })).cpuLoadPercent,
    ).toBeUndefined();
    const s = await step(1000, { '/proc/stat': 'cpu  1300 0 1100 8600 0 0 0 0 0 0\n' });
    expect(s.cpuLoadPercent).toBe(40);
  });

  it('keeps sampling on its interval until stopped, and a failing listener harms no one', async () => {
    const { sampler, clock } = setup('raspberry-pi-4', { intervalMs: 5000 });
    const seen: number[] = [];
    sampler.on('sample', () => {
      throw new Error('listener bug');
    });
    sampler.on('sample', (s) => seen.push(s.timeMs));
    const controller = new AbortController();
    await sampler.start(controller.signal);
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 5));
      expect(seen).toHaveLength(n);
    };
    await waitFor(1);
    clock.advance(4999);
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toHaveLength(1);
    clock.advance(1);
    await waitFor(2);
    expect(seen[1]! - seen[0]!).toBe(5000);
    expect(sampler.latest()?.timeMs).toBe(seen[1]);
    controller.abort();
    await sampler.stop();
    clock.advance(10_000);
    await new Promise((r) => setTimeout(r, 30));
    expect(seen).toHaveLength(2);
  });
});
