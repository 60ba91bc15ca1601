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
