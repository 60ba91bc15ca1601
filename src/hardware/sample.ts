import { boardDescriptor } from './boards.js';
import { type RaplReading, raplIntervalJ } from './energy.js';
import { type Host, readInt } from './host.js';
import {
  type CpuTimes,
  cpuLoadPercent as loadBetween,
  parseMeminfo,
  parsePressureSomeAvg10,
  parseProcStat,
} from './parse/memory.js';
import { derivePowerSource, parseBattery, systemBatteries } from './parse/power.js';
import { throttleReasons } from './parse/thermal.js';
import { effectiveMemory, readCgroupMemory } from './readers/memory.js';
import { readIna3221, readPmic, readPowerSupplies, readRapl } from './readers/power.js';
import { CONSTANT_ZONES, hotZones, readRaspberryPiThrottle, readThermalZones } from './readers/thermal.js';
import type { BoardFamily, PowerSource } from './schema.js';

/** The changing values at one instant: what telemetry publishes and the tuner watches. */
export interface LiveSample {
  timeMs: number;
  powerSource: PowerSource;
  batteryPercent?: number;
  charging?: boolean;
  batteryStatus?: string;
  /** The machine's power draw from the best sensor (see `powerSensor`); RAPL watts need two samples. */
  powerW?: number;
  powerSensor?: 'ina3221' | 'rapl' | 'pmic' | 'battery';
  batteryPowerW?: number;
  /** Zone type → °C. */
  temperaturesC: Record<string, number>;
  maxTempC?: number;
  throttled: boolean;
  throttleReasons: string[];
  /** Memory available within the effective budget (cgroup-aware). */
  availableBytes?: number;
  budgetBytes?: number;
  availablePercent?: number;
  /** PSI `some avg10` of /proc/pressure/memory, % of time stalled on memory. */
  memoryPressureAvg10?: number;
  cpuLoadPercent?: number;
}

/** A sample plus what the next one needs (raw counters). */
export interface SampleReading {
  sample: LiveSample;
  cpuTimes?: CpuTimes;
  rapl?: RaplReading[];
}

async function readCappedCpus(host: Host): Promise<number[]> {
  const cpus = (await host.list('/sys/devices/system/cpu')).filter((n) => /^cpu\d+$/.test(n));
  const capped: number[] = [];
  for (const c of cpus) {
    const dir = `/sys/devices/system/cpu/${c}/cpufreq`;
    const [max, scalingMax] = await Promise.all([
      readInt(host, `${dir}/cpuinfo_max_freq`),
      readInt(host, `${dir}/scaling_max_freq`),
    ]);
    if (max && scalingMax && scalingMax < max) capped.push(Number(c.slice(3)));
  }
  return capped;
}

/**
 * Reads one sample. The RAPL watts and the CPU load are differences against the previous reading,
 * so the first sample has neither.
 */
export async function readSample(
  host: Host,
  family: BoardFamily,
  timeMs: number,
  previous?: SampleReading,
): Promise<SampleReading> {
  const { sensors } = boardDescriptor(family);
  const [supplies, ina, rapl, pmic, zones, pi, capped, meminfo, cgroup, stat, psi] = await Promise.all([
    readPowerSupplies(host),
    readIna3221(host),
    readRapl(host),
    sensors.pmic ? readPmic(host) : Promise.resolve(undefined),
    readThermalZones(host),
    sensors.vcgencmdThrottled ? readRaspberryPiThrottle(host) : Promise.resolve(undefined),
    readCappedCpus(host),
    host.readText('/proc/meminfo'),
    readCgroupMemory(host),
    host.readText('/proc/stat'),
    host.readText('/proc/pressure/memory'),
  ]);

  const { source } = derivePowerSource(supplies, family);
  const batterySupply = systemBatteries(supplies)[0];
  const battery = batterySupply ? parseBattery(batterySupply) : undefined;

  const raplReadings: RaplReading[] = rapl
    // psys covers the whole SoC platform where it exists; otherwise the packages.
    .filter((s, _, all) =>
      all.some((x) => x.name === 'psys') ? s.name === 'psys' : s.name.startsWith('package'),
    )
    .map((s) => ({
      name: s.name,
      energyUj: s.energyUj ?? 0,
      ...(s.maxEnergyRangeUj ? { maxEnergyRangeUj: s.maxEnergyRangeUj } : {}),
    }));
  let raplW: number | undefined;
  if (raplReadings.length && previous?.rapl && timeMs > previous.sample.timeMs) {
    const j = raplIntervalJ(previous.rapl, raplReadings);
    if (j !== undefined) raplW = j / ((timeMs - previous.sample.timeMs) / 1000);
  }

  // Whole-board sensors first, then the fast RAPL counters, then the Pi 5 PMIC, then the battery's own figure.
  const inaTotal = ina.find((s) => s.total && s.powerW !== undefined);
  let powerW: number | undefined;
  let powerSensor: LiveSample['powerSensor'];
  if (inaTotal) [powerW, powerSensor] = [inaTotal.powerW, 'ina3221'];
  else if (raplW !== undefined) [powerW, powerSensor] = [raplW, 'rapl'];
  else if (pmic?.powerW !== undefined) [powerW, powerSensor] = [pmic.powerW, 'pmic'];
  else if (battery?.powerW !== undefined && source === 'battery')
    [powerW, powerSensor] = [battery.powerW, 'battery'];

  const temperaturesC: Record<string, number> = {};
  for (const z of zones)
    if (z.tempC !== undefined && !CONSTANT_ZONES.has(z.type)) temperaturesC[z.type] = z.tempC;
  const temps = Object.values(temperaturesC);

  const reasons = [...(pi ? throttleReasons(pi) : []), ...hotZones(zones)];
  if (capped.length)
    reasons.push(`CPU max frequency capped on ${capped.length} CPU${capped.length > 1 ? 's' : ''}`);

  let availableBytes: number | undefined;
  let budgetBytes: number | undefined;
  if (meminfo.ok) {
    const m = parseMeminfo(meminfo.text);
    if (m.totalBytes !== undefined && m.availableBytes !== undefined) {
      const e = effectiveMemory(m.totalBytes, m.availableBytes, cgroup);
      availableBytes = e.effectiveAvailableBytes;
      budgetBytes = e.effectiveBudgetBytes;
    }
  }
  const cpuTimes = stat.ok ? parseProcStat(stat.text) : undefined;
  let cpuLoadPercent: number | undefined;
  if (cpuTimes && previous?.cpuTimes) {
    cpuLoadPercent = loadBetween(previous.cpuTimes, cpuTimes);
  }
  const psiAvg10 = psi.ok ? parsePressureSomeAvg10(psi.text) : undefined;

  const sample: LiveSample = {
    timeMs,
    powerSource: source,
    ...(battery?.percent === undefined ? {} : { batteryPercent: battery.percent }),
    ...(battery ? { charging: battery.charging, batteryStatus: battery.status } : {}),
    ...(powerW === undefined ? {} : { powerW: Math.round(powerW * 1000) / 1000, powerSensor }),
    ...(battery?.powerW === undefined ? {} : { batteryPowerW: battery.powerW }),
    temperaturesC,
    ...(temps.length ? { maxTempC: Math.max(...temps) } : {}),
    throttled: reasons.length > 0,
    throttleReasons: reasons,
    ...(availableBytes === undefined ? {} : { availableBytes, budgetBytes }),
    ...(availableBytes !== undefined && budgetBytes
      ? { availablePercent: Math.round((1000 * availableBytes) / budgetBytes) / 10 }
      : {}),
    ...(psiAvg10 === undefined ? {} : { memoryPressureAvg10: psiAvg10 }),
    ...(cpuLoadPercent === undefined ? {} : { cpuLoadPercent: Math.round(cpuLoadPercent * 10) / 10 }),
  };
  return {
    sample,
    ...(cpuTimes ? { cpuTimes } : {}),
    ...(raplReadings.length ? { rapl: raplReadings } : {}),
  };
}
