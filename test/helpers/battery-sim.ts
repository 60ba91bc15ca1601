import { createHost } from '../../src/hardware/host.js';
import type { PlanCandidate } from '../../src/tuner/battery/energy.js';
import { type BatteryPlan, planBatteryLife } from '../../src/tuner/battery/planner.js';
import type { PowerModel } from '../../src/tuner/battery/power-model.js';
import { readBatteryState } from '../../src/tuner/battery/remaining.js';
import { BatteryReplanner, type ReplanOptions } from '../../src/tuner/battery/replanner.js';
import { FakeClock } from './fake-clock.js';
import { TreeCopy } from './hardware.js';

/**
 * A simulated battery for tests and the bench: a writable copy of the x86-laptop fixture tree whose
 * `power_supply/BAT0` charge the caller drains at the draw it says the device has, so the real
 * readers (parseBattery, derivePowerSource) see a battery emptying. Time is the caller's (a fake
 * clock): `advance(ms)` integrates the draw over that time and rewrites the files, so a 12-hour run
 * plays in seconds.
 */
export interface BatterySimOptions {
  fullWh: number;
  startWh?: number;
  /** The device's draw now (W), asked at every step; the test multiplies it to simulate a heater. */
  drawW: () => number;
}

const BAT = '/sys/class/power_supply/BAT0';
const AC = '/sys/class/power_supply/AC/online';

export class BatterySim {
  readonly tree = new TreeCopy('x86-laptop');
  energyWh: number;
  onMains = false;
  /** Hours the battery was not empty and on battery power (what "lasted" means). */
  livedMs = 0;

  constructor(private readonly options: BatterySimOptions) {
    this.energyWh = options.startWh ?? options.fullWh;
    this.write(0);
  }

  get root(): string {
    return this.tree.root;
  }

  get empty(): boolean {
    return this.energyWh <= 0;
  }

  get percent(): number {
    return (100 * this.energyWh) / this.options.fullWh;
  }

  /** Drains (or, on mains, leaves alone) the battery for `ms` at the current draw, in 1 s steps or fewer. */
  advance(ms: number): void {
    const w = this.options.drawW();
    if (!this.onMains && this.energyWh > 0) {
      const needMs = (this.energyWh / w) * 3.6e6;
      if (needMs <= ms) {
        this.livedMs += needMs;
        this.energyWh = 0;
      } else {
        this.livedMs += ms;
        this.energyWh -= (w * ms) / 3.6e6;
      }
    }
    this.write(w);
  }

  setMains(on: boolean): void {
    this.onMains = on;
    this.write(this.options.drawW());
  }

  dispose(): void {
    this.tree.dispose();
  }

  private write(w: number): void {
    const t = this.tree;
    t.write(`${BAT}/energy_now`, Math.round(this.energyWh * 1e6));
    t.write(`${BAT}/energy_full`, Math.round(this.options.fullWh * 1e6));
    t.write(`${BAT}/capacity`, Math.floor(this.percent));
    t.write(`${BAT}/power_now`, Math.round(w * 1e6));
    t.write(`${BAT}/status`, this.onMains ? 'Charging\n' : 'Discharging\n');
    t.write(AC, this.onMains ? 1 : 0);
  }
}

export interface RunOptions {
  candidates: readonly PlanCandidate[];
  cores?: number;
  fullWh: number;
  targetHours: number;
  power: PowerModel;
  /** From this hour on the true draw is multiplied by `factor`. */
  change?: { atHours: number; factor: number };
  /** ± this fraction of random noise on every minute's draw. */
  noise?: number;
  mains?: { fromHours: number; toHours: number };
  minFps?: number;
  options?: Partial<ReplanOptions>;
  /** Stop the run here even if the battery is not empty (default 1.5 × the target). */
  maxHours?: number;
}

/**
 * Plays a battery run under a fake clock: the re-planner reads the simulated power_supply tree every
 * 5 minutes, the battery drains at the draw the applied plan models (× `change`, ± `noise`) until
 * empty or `maxHours`. Returns how long it lived and every re-plan.
 */
export async function simulateBatteryRun(o: RunOptions) {
  const clock = new FakeClock();
  const t0 = clock.now();
  let applied: BatteryPlan | undefined;
  let factor = 1;
  let seed = 42;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  let restored = 0;
  const events: Array<Record<string, unknown>> = [];
  // The truth: what the modelled device draws at the applied plan (without the learned factor), × the change, ± noise.
  const drawW = () => {
    const base = applied ? applied.averageW / applied.energy.drainFactor : o.power.idleW;
    return base * factor * (1 + (o.noise ?? 0) * (2 * random() - 1));
  };
  const sim = new BatterySim({ fullWh: o.fullWh, drawW });
  const host = createHost({ root: sim.root });
  const replanner = new BatteryReplanner({
    clock,
    readBattery: () => readBatteryState(host, 'x86'),
    plan: (req) =>
      planBatteryLife({
        candidates: o.candidates,
        power: o.power,
        cores: o.cores ?? 4,
        remainingWh: req.remainingWh,
        targetHours: req.targetHours,
        drainFactor: req.drainFactor,
        current: req.current,
        minFps: o.minFps,
      }),
    apply: async (p) => {
      applied = p;
    },
    restore: async () => {
      applied = undefined;
      restored++;
    },
    events: { emit: (_type, data) => events.push(data) },
    options: {
      targetHours: o.targetHours,
      everyMinutes: 30,
      drainMarginPercent: 15,
      drainWindowMinutes: 30,
      rateHysteresisPercent: 10,
      lowBatteryPercent: 20,
      checkIntervalMs: 5 * 60_000,
      ...o.options,
    },
  });
  await replanner.tick();
  // One reading every 5 minutes keeps a 12-hour run to ~150 reads of the tree.
  const stepMs = 5 * 60_000;
  const maxSteps = (o.maxHours ?? o.targetHours * 1.5) * 12;
  for (let i = 0; i < maxSteps && !sim.empty; i++) {
    sim.advance(stepMs);
    await clock.advance(stepMs);
    const h = (clock.now() - t0) / 3.6e6;
    if (o.change && h >= o.change.atHours) factor = o.change.factor;
    if (o.mains) sim.setMains(h >= o.mains.fromHours && h < o.mains.toHours);
    await replanner.tick();
  }
  sim.dispose();
  return {
    livedHours: sim.livedMs / 3.6e6,
    replans: replanner.replans(),
    events,
    restored,
    t0,
    replanner,
    firstPlan: replanner.replans()[0],
  };
}

// Each run reads the fixture tree ~150-200 times; slow on a shared machine, hence the timeout.
