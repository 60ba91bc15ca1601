import type { Host } from '../../hardware/host.js';
import { derivePowerSource, parseBattery, systemBatteries } from '../../hardware/parse/power.js';
import { readPowerSupplies } from '../../hardware/readers/power.js';
import type { BatteryInfo, BoardFamily, PowerSource } from '../../hardware/schema.js';

/**
 * How much energy is left and how fast it goes: from the battery's own energy figures
 * (`energy_now`, or `charge_now` × voltage, both in parseBattery), else percent × the configured
 * capacity (`power.batteryWh`); the drain is a least-squares slope over a window of readings, so a
 * noisy reading moves it little. Pure, except `readBatteryState` (the thin reader).
 */

export interface RemainingEnergy {
  wh: number;
  fullWh?: number;
  source: 'battery-energy' | 'percent × power.batteryWh';
}

export function remainingEnergy(
  battery: Pick<BatteryInfo, 'energyWh' | 'energyFullWh' | 'percent'> | undefined,
  batteryWh: number | undefined,
): RemainingEnergy | undefined {
  if (!battery) return undefined;
  if (battery.energyWh !== undefined)
    return {
      wh: battery.energyWh,
      ...(battery.energyFullWh !== undefined ? { fullWh: battery.energyFullWh } : {}),
      source: 'battery-energy',
    };
  if (battery.percent !== undefined && batteryWh !== undefined)
    return {
      wh: (battery.percent / 100) * batteryWh,
      fullWh: batteryWh,
      source: 'percent × power.batteryWh',
    };
  return undefined;
}

export interface EnergyPoint {
  timeMs: number;
  wh: number;
}

/**
 * The average draw (W) over the last `windowMs`: minus the slope of Wh against time, least
 * squares. Undefined until the readings span at least half the window (3 points or more).
 */
export function drainWatts(
  points: readonly EnergyPoint[],
  windowMs: number,
  nowMs: number,
): number | undefined {
  const inWindow = points.filter((p) => p.timeMs >= nowMs - windowMs && p.timeMs <= nowMs);
  if (inWindow.length < 3) return undefined;
  const span = inWindow[inWindow.length - 1]!.timeMs - inWindow[0]!.timeMs;
  if (span < windowMs / 2) return undefined;
  const t0 = inWindow[0]!.timeMs;
  const xs = inWindow.map((p) => (p.timeMs - t0) / 3_600_000);
  const ys = inWindow.map((p) => p.wh);
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den > 0 ? -num / den : undefined;
}

export interface BatteryState {
  powerSource: PowerSource;
  battery?: BatteryInfo;
}

/** Reads the power_supply class once (the same parsing as the profile and the sampler). */
export async function readBatteryState(host: Host, family: BoardFamily): Promise<BatteryState> {
  const supplies = await readPowerSupplies(host);
  const { source } = derivePowerSource(supplies, family);
  const supply = systemBatteries(supplies)[0];
  return { powerSource: source, ...(supply ? { battery: parseBattery(supply) } : {}) };
}
