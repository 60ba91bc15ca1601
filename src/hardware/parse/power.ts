import { boardDescriptor } from '../boards.js';
import { cleanText, parseIntText } from '../host.js';
import type { BatteryInfo, BoardFamily, PowerSource } from '../schema.js';

/** The attribute files of one /sys/class/power_supply/<name>/ folder (file name → text). */
export type SupplyAttributes = Record<string, string>;

export interface PowerSupply {
  name: string;
  type: string;
  online?: boolean;
  /** `Device` for peripherals (a wireless mouse's battery), `System` or absent for the machine's own. */
  scope?: string;
  attrs: SupplyAttributes;
}

export function parseSupply(name: string, attrs: SupplyAttributes): PowerSupply {
  const online = attrs.online === undefined ? undefined : parseIntText(attrs.online);
  const scope = attrs.scope === undefined ? undefined : cleanText(attrs.scope);
  return {
    name,
    type: cleanText(attrs.type ?? 'Unknown') || 'Unknown',
    ...(online === undefined ? {} : { online: online === 1 }),
    ...(scope ? { scope } : {}),
    attrs,
  };
}

/** The machine's own batteries (not a peripheral's). */
export function systemBatteries(supplies: readonly PowerSupply[]): PowerSupply[] {
  return supplies.filter((s) => s.type === 'Battery' && s.scope !== 'Device');
}

const num = (attrs: SupplyAttributes, key: string): number | undefined =>
  attrs[key] === undefined ? undefined : parseIntText(attrs[key]);

/**
 * Battery state from power_supply attributes (µW, µA, µV, µWh, µAh as the kernel reports them).
 * Power comes from power_now, or current_now × voltage_now; some drivers sign it by direction, so
 * the magnitude is kept and the direction comes from `status`.
 */
export function parseBattery(supply: PowerSupply): BatteryInfo {
  const a = supply.attrs;
  const status = cleanText(a.status ?? 'Unknown') || 'Unknown';
  const charging = status === 'Charging';
  const voltageUv = num(a, 'voltage_now');
  const powerUw = num(a, 'power_now');
  const currentUa = num(a, 'current_now');
  let powerW: number | undefined;
  if (powerUw !== undefined) powerW = Math.abs(powerUw) / 1e6;
  else if (currentUa !== undefined && voltageUv !== undefined)
    powerW = (Math.abs(currentUa) * voltageUv) / 1e12;

  // Energy in Wh: energy_* directly, or charge_* (µAh) × the voltage (nominal design voltage when known).
  const voltsForCharge = (num(a, 'voltage_min_design') ?? voltageUv ?? 0) / 1e6;
  const energyNowUwh = num(a, 'energy_now');
  const energyFullUwh = num(a, 'energy_full');
  const chargeNow = num(a, 'charge_now');
  const chargeFull = num(a, 'charge_full');
  const energyWh =
    energyNowUwh !== undefined
      ? energyNowUwh / 1e6
      : chargeNow !== undefined && voltsForCharge > 0
        ? (chargeNow / 1e6) * voltsForCharge
        : undefined;
  const energyFullWh =
    energyFullUwh !== undefined
      ? energyFullUwh / 1e6
      : chargeFull !== undefined && voltsForCharge > 0
        ? (chargeFull / 1e6) * voltsForCharge
        : undefined;

  let percent = num(a, 'capacity');
  if (percent === undefined && energyNowUwh !== undefined && energyFullUwh)
    percent = (100 * energyNowUwh) / energyFullUwh;
  if (percent === undefined && chargeNow !== undefined && chargeFull)
    percent = (100 * chargeNow) / chargeFull;
  if (percent !== undefined) percent = Math.min(100, Math.max(0, percent));

  let timeRemainingS: number | undefined;
  const toEmpty = num(a, 'time_to_empty_now');
  const toFull = num(a, 'time_to_full_now');
  if (status === 'Discharging' && toEmpty !== undefined && toEmpty > 0) timeRemainingS = toEmpty;
  else if (charging && toFull !== undefined && toFull > 0) timeRemainingS = toFull;
  else if (powerW !== undefined && powerW > 0.05 && energyWh !== undefined) {
    if (status === 'Discharging') timeRemainingS = (energyWh / powerW) * 3600;
    else if (charging && energyFullWh !== undefined)
      timeRemainingS = (Math.max(0, energyFullWh - energyWh) / powerW) * 3600;
  }

  return {
    name: supply.name,
    status,
    charging,
    ...(percent === undefined ? {} : { percent: round(percent, 1) }),
    ...(powerW === undefined ? {} : { powerW: round(powerW, 3) }),
    ...(voltageUv === undefined ? {} : { voltageV: round(voltageUv / 1e6, 3) }),
    ...(energyWh === undefined ? {} : { energyWh: round(energyWh, 3) }),
    ...(energyFullWh === undefined ? {} : { energyFullWh: round(energyFullWh, 3) }),
    ...(timeRemainingS === undefined ? {} : { timeRemainingS: Math.round(timeRemainingS) }),
  };
}

/**
 * Where the power comes from. External supplies that say they are online win; a battery that is
 * discharging means battery; boards without any power_supply entry fall back on what the board is.
 */
export function derivePowerSource(
  supplies: readonly PowerSupply[],
  family: BoardFamily,
): { source: PowerSource; reason: string } {
  const external = supplies.filter((s) => s.type !== 'Battery' && s.scope !== 'Device');
  const mains = external.find((s) => s.type === 'Mains' && s.online);
  if (mains) return { source: 'mains', reason: `${mains.name} (Mains) online` };
  const usb = external.find((s) => s.type.startsWith('USB') && s.online);
  const battery = systemBatteries(supplies)[0];
  const status = battery ? cleanText(battery.attrs.status ?? '') : '';
  if (usb) return { source: 'usb', reason: `${usb.name} (${usb.type}) online` };
  if (battery && status === 'Discharging')
    return { source: 'battery', reason: `${battery.name} discharging, no external supply online` };
  if (battery && /^(Charging|Full|Not charging)$/.test(status)) {
    return { source: 'mains', reason: `${battery.name} ${status.toLowerCase()}: external power connected` };
  }
  if (battery) return { source: 'unknown', reason: `${battery.name} status "${status || 'absent'}"` };
  const fallback = boardDescriptor(family).fallbackPowerSource;
  if (fallback) return { ...fallback };
  return { source: 'unknown', reason: 'no power_supply entry (desktop, server, VM or container)' };
}

export interface PmicRail {
  name: string;
  currentA?: number;
  voltageV?: number;
  powerW?: number;
}

/**
 * `vcgencmd pmic_read_adc` on a Raspberry Pi 5: `VDD_CORE_A current(7)=0.72A` and
 * `VDD_CORE_V volt(15)=0.88V` lines; rails pair by name. The sum of V×A is the power the PMIC
 * delivers (the SoC, RAM and 3V3/1V8 rails), not what USB peripherals draw from the 5 V input.
 */
export function parsePmicAdc(text: string): { rails: PmicRail[]; totalW?: number; inputV?: number } {
  const rails = new Map<string, PmicRail>();
  let inputV: number | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s*(\S+?)_([AV])\s+(?:current|volt)\(\d+\)=([\d.]+)[AV]\s*$/.exec(line);
    if (!m) continue;
    const [, name, unit, value] = m;
    const v = Number(value);
    if (!Number.isFinite(v)) continue;
    if (name === 'EXT5V' && unit === 'V') inputV = v;
    const rail = rails.get(name!) ?? { name: name! };
    if (unit === 'A') rail.currentA = v;
    else rail.voltageV = v;
    rails.set(name!, rail);
  }
  let total = 0;
  let any = false;
  for (const r of rails.values()) {
    if (r.currentA !== undefined && r.voltageV !== undefined) {
      r.powerW = round(r.currentA * r.voltageV, 4);
      total += r.powerW;
      any = true;
    }
  }
  return {
    rails: [...rails.values()],
    ...(any ? { totalW: round(total, 3) } : {}),
    ...(inputV ? { inputV } : {}),
  };
}

/** INA3221 rails that measure the whole module's input (Orin/Xavier VDD_IN, Nano POM_5V_IN). */
export function isTotalRail(name: string): boolean {
  return /^(VDD_IN|POM_5V_IN|VIN_SYS_5V0|VDD_IN_SYS)$/i.test(name);
}

/** Energy between two readings of a RAPL counter (µJ), handling the wrap at max_energy_range_uj. */
export function raplDeltaUj(
  prevUj: number,
  curUj: number,
  maxRangeUj: number | undefined,
): number | undefined {
  if (curUj >= prevUj) return curUj - prevUj;
  // The counter wrapped; without the range we cannot tell how far it went.
  if (!maxRangeUj || prevUj > maxRangeUj) return undefined;
  return maxRangeUj - prevUj + curUj;
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
