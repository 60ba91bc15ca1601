import type * as si from 'systeminformation';
import { cpuArch, normalizeFeatures } from './parse/cpu.js';
import { round } from './parse/power.js';
import type { BatteryInfo, CpuInfo, MemoryInfo, OsInfo } from './schema.js';

/**
 * systeminformation only reads the live machine and cannot be pointed at a root, so the Linux
 * readers parse procfs/sysfs themselves (one code path for `/` and fixture trees). Where those
 * files do not exist (a macOS or Windows development machine), systeminformation fills memory,
 * CPU basics, battery and OS, which it knows how to read on every platform.
 */
export type SystemInformation = Pick<typeof si, 'mem' | 'cpu' | 'cpuFlags' | 'battery' | 'osInfo'>;

const ARCH: Record<string, CpuInfo['arch']> = { x64: 'x86_64', arm64: 'aarch64', arm: 'armv7l' };

export async function cpuFromSystemInformation(s: SystemInformation): Promise<CpuInfo> {
  const [cpu, flags] = await Promise.all([s.cpu(), s.cpuFlags()]);
  const raw = flags.split(/\s+/).filter(Boolean);
  const arch = ARCH[process.arch] ?? cpuArch({ processors: [{ index: 0, features: raw }] });
  const maxMhz = (cpu.speedMax || cpu.speed) * 1000;
  return {
    arch,
    vendor: cpu.manufacturer,
    modelName: `${cpu.manufacturer} ${cpu.brand}`.trim(),
    cores: cpu.cores,
    clusters: [
      {
        cpus: Array.from({ length: cpu.cores }, (_, i) => i),
        coreType: cpu.brand,
        ...(maxMhz > 0 ? { maxMhz } : {}),
      },
    ],
    // Apple silicon has NEON, fp16 and dotprod on every model; systeminformation lists no flags there.
    features:
      arch === 'aarch64' && raw.length === 0 ? ['dotprod', 'fp16', 'neon'] : normalizeFeatures(arch, raw),
    rawFeatures: raw,
    ...(cpu.speed > 0 ? { curMhz: cpu.speed * 1000 } : {}),
    ...(maxMhz > 0 ? { maxMhz } : {}),
  };
}

export async function memoryFromSystemInformation(s: SystemInformation): Promise<MemoryInfo> {
  const m = await s.mem();
  return {
    totalBytes: m.total,
    availableBytes: m.available,
    swapTotalBytes: m.swaptotal,
    swapFreeBytes: m.swapfree,
    effectiveBudgetBytes: m.total,
    effectiveAvailableBytes: m.available,
  };
}

export async function batteryFromSystemInformation(s: SystemInformation): Promise<BatteryInfo | undefined> {
  const b = await s.battery();
  if (!b.hasBattery) return undefined;
  const status = b.isCharging
    ? 'Charging'
    : b.acConnected
      ? b.percent >= 99
        ? 'Full'
        : 'Not charging'
      : 'Discharging';
  return {
    name: b.model || 'battery',
    status,
    charging: b.isCharging,
    percent: Math.min(100, Math.max(0, b.percent)),
    ...(b.voltage > 0 ? { voltageV: round(b.voltage, 3) } : {}),
    // timeRemaining is in minutes; null/-1/0 when the OS does not estimate it.
    ...(b.timeRemaining > 0 ? { timeRemainingS: b.timeRemaining * 60 } : {}),
  };
}

export async function osFromSystemInformation(s: SystemInformation): Promise<OsInfo> {
  const o = await s.osInfo();
  return { kernel: o.kernel, distro: `${o.distro} ${o.release}`.trim(), hostname: o.hostname };
}
