import { boardDescriptor } from '../boards.js';
import { COMMANDS, type Host, readString } from '../host.js';
import { parseMilliCelsius, parseNvpmodel, parseThrottled, throttleReasons } from '../parse/thermal.js';
import type { BoardFamily, RaspberryPiThrottle, ThermalInfo, ThermalZone } from '../schema.js';
import type { Miss } from './system.js';

const THERMAL_DIR = '/sys/class/thermal';

/** Zones that report a fixed value rather than a temperature (Jetson Nano's PMIC-Die reads 100 °C always). */
export const CONSTANT_ZONES = new Set(['PMIC-Die']);

export async function readThermalZones(host: Host, withTrips = true): Promise<ThermalZone[]> {
  const names = (await host.list(THERMAL_DIR)).filter((n) => /^thermal_zone\d+$/.test(n));
  return Promise.all(
    names.map(async (name) => {
      const dir = `${THERMAL_DIR}/${name}`;
      const [type, temp, files] = await Promise.all([
        readString(host, `${dir}/type`),
        host.readText(`${dir}/temp`),
        withTrips ? host.list(dir) : Promise.resolve([]),
      ]);
      const tempC = temp.ok ? parseMilliCelsius(temp.text) : undefined;
      const trips: ThermalZone['trips'] = [];
      for (const f of files) {
        const m = /^trip_point_(\d+)_temp$/.exec(f);
        if (!m) continue;
        const [tripType, tripTemp] = await Promise.all([
          readString(host, `${dir}/trip_point_${m[1]}_type`),
          host.readText(`${dir}/${f}`),
        ]);
        const c = tripTemp.ok ? parseMilliCelsius(tripTemp.text) : undefined;
        // x86_pkg_temp and some ACPI zones list placeholder trips at 0 °C: not real thresholds.
        if (c !== undefined && c > 0) trips.push({ type: tripType ?? 'unknown', tempC: c });
      }
      trips.sort((a, b) => a.tempC - b.tempC);
      return { name, type: type ?? 'unknown', ...(tempC === undefined ? {} : { tempC }), trips };
    }),
  );
}

export async function readRaspberryPiThrottle(
  host: Host,
  miss?: Miss,
): Promise<RaspberryPiThrottle | undefined> {
  const r = await host.exec(COMMANDS.vcgencmdThrottled);
  if (!r.ok) {
    miss?.('thermal.throttling.raspberryPi', r.reason);
    return undefined;
  }
  const t = parseThrottled(r.stdout);
  if (!t)
    miss?.(
      'thermal.throttling.raspberryPi',
      `vcgencmd get_throttled: unrecognised output "${r.stdout.trim().slice(0, 80)}"`,
    );
  return t;
}

/** Zones at or above their first passive trip point (the kernel starts cooling by throttling there). */
export function hotZones(zones: readonly ThermalZone[]): string[] {
  return zones.flatMap((z) => {
    const passive = z.trips.find((t) => t.type === 'passive');
    return z.tempC !== undefined && passive && z.tempC >= passive.tempC
      ? [`${z.type} at ${z.tempC} °C ≥ passive trip ${passive.tempC} °C`]
      : [];
  });
}

export interface ThermalReadOptions {
  family: BoardFamily;
  cappedCpus: ReadonlyArray<{ cpu: number; scalingMaxMhz: number; maxMhz: number }>;
}

export async function readThermal(host: Host, options: ThermalReadOptions, miss: Miss): Promise<ThermalInfo> {
  const { sensors } = boardDescriptor(options.family);
  const [zones, pi, nvp] = await Promise.all([
    readThermalZones(host),
    sensors.vcgencmdThrottled ? readRaspberryPiThrottle(host, miss) : Promise.resolve(undefined),
    sensors.nvpmodel ? host.exec(COMMANDS.nvpmodel) : Promise.resolve(undefined),
  ]);
  if (zones.length === 0) miss('thermal.zones', `${THERMAL_DIR}: no thermal zones`);
  let jetsonPowerMode: { name: string; id?: number } | undefined;
  if (nvp) {
    if (!nvp.ok) miss('thermal.throttling.jetsonPowerMode', nvp.reason);
    else {
      jetsonPowerMode = parseNvpmodel(nvp.stdout);
      if (!jetsonPowerMode)
        miss('thermal.throttling.jetsonPowerMode', 'nvpmodel -q: no "NV Power Mode" line');
    }
  }
  const reasons = [...(pi ? throttleReasons(pi) : []), ...hotZones(zones)];
  const frequencyCapped = options.cappedCpus.length > 0;
  if (frequencyCapped) {
    const c = options.cappedCpus[0]!;
    reasons.push(
      `CPU max frequency capped (cpu${c.cpu}: ${c.scalingMaxMhz} of ${c.maxMhz} MHz${options.cappedCpus.length > 1 ? `, ${options.cappedCpus.length} CPUs` : ''})`,
    );
  }
  const temps = zones.flatMap((z) => (z.tempC === undefined || CONSTANT_ZONES.has(z.type) ? [] : [z.tempC]));
  return {
    zones,
    ...(temps.length ? { maxTempC: Math.max(...temps) } : {}),
    throttling: {
      active: reasons.length > 0,
      reasons,
      ...(pi ? { raspberryPi: pi } : {}),
      frequencyCapped,
      ...(jetsonPowerMode ? { jetsonPowerMode } : {}),
    },
  };
}
