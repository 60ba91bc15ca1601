import { boardDescriptor } from '../boards.js';
import { COMMANDS, type Host, readInt, readString } from '../host.js';
import {
  derivePowerSource,
  isTotalRail,
  type PowerSupply,
  parseBattery,
  parsePmicAdc,
  parseSupply,
  round,
  systemBatteries,
} from '../parse/power.js';
import type { BoardFamily, PowerInfo, PowerSensor } from '../schema.js';
import type { Miss } from './system.js';

const SUPPLY_DIR = '/sys/class/power_supply';
const SUPPLY_ATTRS = [
  'type',
  'online',
  'scope',
  'status',
  'capacity',
  'power_now',
  'current_now',
  'voltage_now',
  'voltage_min_design',
  'energy_now',
  'energy_full',
  'charge_now',
  'charge_full',
  'time_to_empty_now',
  'time_to_full_now',
];

export async function readPowerSupplies(host: Host): Promise<PowerSupply[]> {
  const names = await host.list(SUPPLY_DIR);
  return Promise.all(
    names.map(async (name) => {
      const attrs: Record<string, string> = {};
      await Promise.all(
        SUPPLY_ATTRS.map(async (a) => {
          const r = await host.readText(`${SUPPLY_DIR}/${name}/${a}`);
          if (r.ok) attrs[a] = r.text;
        }),
      );
      return parseSupply(name, attrs);
    }),
  );
}

/** INA3221 rails: the hwmon driver (Jetson Orin/Xavier, L4T ≥ 34) and the legacy iio driver (Nano, TX2, L4T 32). */
export async function readIna3221(host: Host): Promise<PowerSensor[]> {
  const sensors: PowerSensor[] = [];
  for (const hw of await host.list('/sys/class/hwmon')) {
    const dir = `/sys/class/hwmon/${hw}`;
    if ((await readString(host, `${dir}/name`)) !== 'ina3221') continue;
    for (let ch = 1; ch <= 8; ch++) {
      const label = await readString(host, `${dir}/in${ch}_label`);
      if (!label) continue;
      const [mv, ma] = await Promise.all([
        readInt(host, `${dir}/in${ch}_input`),
        readInt(host, `${dir}/curr${ch}_input`),
      ]);
      // Channels without a current (the "sum of shunt voltages" summation channel) are not rails.
      if (ma === undefined) continue;
      sensors.push({
        name: label,
        kind: 'ina3221',
        total: isTotalRail(label),
        ...(mv === undefined ? {} : { voltageV: mv / 1000 }),
        currentA: ma / 1000,
        ...(mv === undefined ? {} : { powerW: round((mv * ma) / 1e6, 3) }),
        path: dir,
      });
    }
  }
  const legacy = '/sys/bus/i2c/drivers/ina3221x';
  for (const dev of await host.list(legacy)) {
    for (const iio of (await host.list(`${legacy}/${dev}`)).filter((n) => n.startsWith('iio:device'))) {
      const dir = `${legacy}/${dev}/${iio}`;
      for (let ch = 0; ch < 3; ch++) {
        const name = await readString(host, `${dir}/rail_name_${ch}`);
        if (!name) continue;
        const [mw, ma, mv] = await Promise.all([
          readInt(host, `${dir}/in_power${ch}_input`),
          readInt(host, `${dir}/in_current${ch}_input`),
          readInt(host, `${dir}/in_voltage${ch}_input`),
        ]);
        if (mw === undefined && ma === undefined) continue;
        sensors.push({
          name,
          kind: 'ina3221',
          total: isTotalRail(name),
          ...(mw === undefined ? {} : { powerW: mw / 1000 }),
          ...(mv === undefined ? {} : { voltageV: mv / 1000 }),
          ...(ma === undefined ? {} : { currentA: ma / 1000 }),
          path: dir,
        });
      }
    }
  }
  return sensors;
}

/**
 * RAPL zones (Intel, and AMD since Linux 5.11, both under intel-rapl): top-level package and psys
 * counters. energy_uj is root-only since Linux 5.10 (Platypus), so a permission error is reported.
 */
export async function readRapl(host: Host, miss?: Miss): Promise<PowerSensor[]> {
  const sensors: PowerSensor[] = [];
  for (const zone of await host.list('/sys/class/powercap')) {
    if (!/^intel-rapl:\d+$/.test(zone)) continue;
    const dir = `/sys/class/powercap/${zone}`;
    const [name, energy, range] = await Promise.all([
      readString(host, `${dir}/name`),
      host.readText(`${dir}/energy_uj`),
      readInt(host, `${dir}/max_energy_range_uj`),
    ]);
    if (!energy.ok) {
      const hint = /permission/.test(energy.reason)
        ? ' (root-only since Linux 5.10: run as root or grant read access with a udev rule)'
        : '';
      miss?.(`power.sensors.${zone}`, `${energy.reason}${hint}`);
      continue;
    }
    const uj = Number(energy.text.trim());
    if (!Number.isFinite(uj)) {
      miss?.(`power.sensors.${zone}`, `${dir}/energy_uj: not a number`);
      continue;
    }
    sensors.push({
      name: name ?? zone,
      kind: 'rapl',
      total: false,
      energyUj: uj,
      ...(range && range > 0 ? { maxEnergyRangeUj: range } : {}),
      path: `${dir}/energy_uj`,
    });
  }
  return sensors;
}

/** The Raspberry Pi 5 PMIC through `vcgencmd pmic_read_adc`: one sensor, the sum of its rails. */
export async function readPmic(host: Host, miss?: Miss): Promise<PowerSensor | undefined> {
  const r = await host.exec(COMMANDS.vcgencmdPmic);
  if (!r.ok) {
    miss?.('power.sensors.pmic', r.reason);
    return undefined;
  }
  const pmic = parsePmicAdc(r.stdout);
  if (pmic.totalW === undefined) {
    miss?.('power.sensors.pmic', 'vcgencmd pmic_read_adc: no current/voltage rail pairs in the output');
    return undefined;
  }
  return {
    name: 'pmic-total',
    kind: 'pmic',
    total: false,
    powerW: pmic.totalW,
    ...(pmic.inputV === undefined ? {} : { voltageV: pmic.inputV }),
    path: 'vcgencmd pmic_read_adc',
  };
}

export interface PowerReadOptions {
  family: BoardFamily;
  /** Discrete GPU power from nvidia-smi, already read by the GPU reader. */
  gpuSensors?: PowerSensor[];
}

export async function readPower(host: Host, options: PowerReadOptions, miss: Miss): Promise<PowerInfo> {
  const [supplies, ina, rapl, pmic] = await Promise.all([
    readPowerSupplies(host),
    readIna3221(host),
    readRapl(host, miss),
    boardDescriptor(options.family).sensors.pmic ? readPmic(host, miss) : Promise.resolve(undefined),
  ]);
  const { source, reason } = derivePowerSource(supplies, options.family);
  const batterySupply = systemBatteries(supplies)[0];
  const battery = batterySupply ? parseBattery(batterySupply) : undefined;
  if (!battery) miss('power.battery', `${SUPPLY_DIR}: no battery`);
  const sensors: PowerSensor[] = [...ina, ...rapl, ...(pmic ? [pmic] : []), ...(options.gpuSensors ?? [])];
  if (battery?.powerW !== undefined) {
    sensors.push({
      name: battery.name,
      kind: 'battery',
      // While discharging with no other supply, the battery feeds the whole machine.
      total: source === 'battery',
      powerW: battery.powerW,
      ...(battery.voltageV === undefined ? {} : { voltageV: battery.voltageV }),
      path: `${SUPPLY_DIR}/${battery.name}`,
    });
  }
  if (sensors.length === 0)
    miss('power.sensors', 'no INA3221, RAPL, PMIC or battery power reading on this device');
  return { source, sourceReason: reason, ...(battery ? { battery } : {}), sensors };
}
