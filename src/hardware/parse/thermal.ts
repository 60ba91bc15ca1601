import { cleanText, parseIntText } from '../host.js';
import type { GpuInfo, RaspberryPiThrottle } from '../schema.js';

/**
 * `vcgencmd get_throttled` → `throttled=0x50005`. Bits (Raspberry Pi firmware documentation):
 * 0 under-voltage, 1 ARM frequency capped, 2 throttled, 3 soft temperature limit (now);
 * 16-19 the same since boot. Undefined for text that is not that line.
 */
export function parseThrottled(text: string): RaspberryPiThrottle | undefined {
  const m = /throttled=(0x[0-9a-f]+|\d+)/i.exec(text);
  if (!m) return undefined;
  const bits = Number(m[1]);
  if (!Number.isSafeInteger(bits)) return undefined;
  const bit = (n: number) => (bits & (1 << n)) !== 0;
  return {
    raw: m[1]!.toLowerCase(),
    underVoltageNow: bit(0),
    frequencyCappedNow: bit(1),
    throttledNow: bit(2),
    softTempLimitNow: bit(3),
    underVoltageSinceBoot: bit(16),
    frequencyCappedSinceBoot: bit(17),
    throttledSinceBoot: bit(18),
    softTempLimitSinceBoot: bit(19),
  };
}

/** Human-readable causes of a Raspberry Pi's throttling right now. */
export function throttleReasons(t: RaspberryPiThrottle): string[] {
  const reasons: string[] = [];
  if (t.underVoltageNow) reasons.push('under-voltage (use a better power supply)');
  if (t.frequencyCappedNow) reasons.push('ARM frequency capped');
  if (t.throttledNow) reasons.push('throttled by the firmware');
  if (t.softTempLimitNow) reasons.push('soft temperature limit active');
  return reasons;
}

/**
 * `nvpmodel -q`: optional warning and fan lines, then `NV Power Mode: 15W` and the mode id on the
 * next line.
 */
export function parseNvpmodel(text: string): { name: string; id?: number } | undefined {
  const lines = text.split('\n').map((l) => l.trim());
  const i = lines.findIndex((l) => /^NV Power Mode\s*:/i.test(l));
  if (i < 0) return undefined;
  const name = lines[i]!.replace(/^NV Power Mode\s*:\s*/i, '').trim();
  if (!name) return undefined;
  const id = parseIntText(lines[i + 1] ?? '');
  return { name, ...(id !== undefined && id >= 0 ? { id } : {}) };
}

/** A thermal zone `temp` file in millidegrees Celsius → °C; some drivers report whole degrees. */
export function parseMilliCelsius(text: string): number | undefined {
  const n = parseIntText(text);
  if (n === undefined) return undefined;
  const c = Math.abs(n) > 1000 ? n / 1000 : n;
  // Sensors that are absent or broken read -273 or 0x7fff...; keep plausible values only.
  if (c < -60 || c > 200) return undefined;
  return Math.round(c * 10) / 10;
}

/**
 * `nvidia-smi --query-gpu=name,memory.total,memory.free,driver_version,compute_cap,power.draw,
 * temperature.gpu,utilization.gpu --format=csv,noheader,nounits`: one line per GPU, MiB/W/°C/%.
 * `[N/A]` and `[Not Supported]` fields are left out.
 */
export function parseNvidiaSmi(text: string): GpuInfo[] {
  const gpus: GpuInfo[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split(',').map((c) => c.trim());
    if (cells.length < 4 || !cells[0] || /^name$/i.test(cells[0])) continue;
    const [name, memTotal, memFree, driver, cc, power, temp, util] = cells;
    const n = (v: string | undefined) =>
      v === undefined || v === '' || v.startsWith('[') ? undefined : Number(v);
    const fin = (v: number | undefined) => (v !== undefined && Number.isFinite(v) ? v : undefined);
    const memTotalMiB = fin(n(memTotal));
    const memFreeMiB = fin(n(memFree));
    const powerW = fin(n(power));
    const tempC = fin(n(temp));
    const utilization = fin(n(util));
    gpus.push({
      kind: 'discrete',
      vendor: 'nvidia',
      name: name!,
      ...(memTotalMiB === undefined ? {} : { memoryTotalBytes: memTotalMiB * 1024 * 1024 }),
      ...(memFreeMiB === undefined ? {} : { memoryFreeBytes: memFreeMiB * 1024 * 1024 }),
      ...(driver && !driver.startsWith('[') ? { driverVersion: driver } : {}),
      ...(cc && !cc.startsWith('[') ? { computeCapability: cc } : {}),
      ...(powerW === undefined ? {} : { powerW }),
      ...(tempC === undefined ? {} : { tempC }),
      ...(utilization === undefined ? {} : { utilizationPercent: Math.min(100, Math.max(0, utilization)) }),
    });
  }
  return gpus;
}

/** CUDA's version.json (`{"cuda": {"version": "12.6.68"}}`) or the older version.txt (`CUDA Version 10.2.300`). */
export function parseCudaVersion(text: string): string | undefined {
  const t = cleanText(text);
  if (t.startsWith('{')) {
    try {
      const v = (JSON.parse(t) as { cuda?: { version?: unknown } }).cuda?.version;
      return typeof v === 'string' ? v : undefined;
    } catch {
      return undefined;
    }
  }
  return /CUDA Version\s+([\d.]+)/.exec(t)?.[1];
}
