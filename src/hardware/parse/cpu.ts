import type { CpuCluster, CpuFeature, CpuInfo } from '../schema.js';

/** One `processor : N` block of /proc/cpuinfo. */
export interface CpuinfoProcessor {
  index: number;
  modelName?: string;
  vendorId?: string;
  /** x86 `flags` or arm `Features`, split into words. */
  features: string[];
  implementer?: string;
  architecture?: string;
  part?: string;
  mhz?: number;
}

export interface Cpuinfo {
  processors: CpuinfoProcessor[];
  /** The trailing machine block on arm (`Hardware`, `Revision`, `Serial`, `Model`). */
  hardware?: string;
  revision?: string;
  model?: string;
}

/**
 * Parses /proc/cpuinfo for x86 and arm (32/64-bit). Never throws: unknown or garbled lines are
 * skipped, so an empty or truncated file gives an empty processor list.
 */
export function parseCpuinfo(text: string): Cpuinfo {
  const result: Cpuinfo = { processors: [] };
  let current: CpuinfoProcessor | undefined;
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'processor') {
      const index = Number(value);
      // Old 32-bit arm kernels also print "Processor : ARMv7 Processor rev 4 (v7l)": not a block start.
      if (value !== '' && Number.isInteger(index)) {
        current = { index, features: [] };
        result.processors.push(current);
      }
      continue;
    }
    switch (key) {
      case 'hardware':
        result.hardware = value;
        continue;
      case 'revision':
        result.revision = value;
        continue;
      case 'model':
        // x86 has a numeric per-processor `model`; the arm machine block has the board name.
        if (!/^\d+$/.test(value)) result.model = value;
        continue;
    }
    if (!current) continue;
    switch (key) {
      case 'model name':
        current.modelName = value;
        break;
      case 'vendor_id':
        current.vendorId = value;
        break;
      case 'flags':
      case 'features':
        current.features = value.split(/\s+/).filter(Boolean);
        break;
      case 'cpu implementer':
        current.implementer = value.toLowerCase();
        break;
      case 'cpu architecture':
        current.architecture = value;
        break;
      case 'cpu part':
        current.part = value.toLowerCase();
        break;
      case 'cpu mhz': {
        const mhz = Number(value);
        if (Number.isFinite(mhz) && mhz > 0) current.mhz = mhz;
        break;
      }
    }
  }
  return result;
}

/** Decides the ISA from cpuinfo alone, so a fixture tree of a Pi reads as aarch64 on an x86 host. */
export function cpuArch(info: Cpuinfo): CpuInfo['arch'] {
  const p = info.processors[0];
  if (!p) return 'unknown';
  if (p.vendorId || p.features.includes('sse2') || p.features.includes('lm')) return 'x86_64';
  if (p.implementer || p.architecture) {
    // aarch64 kernels print `asimd`; 32-bit kernels print `neon` / `vfpv4` and "(v7l)" model names.
    if (p.features.includes('asimd') || p.features.includes('fp')) return 'aarch64';
    return 'armv7l';
  }
  return 'unknown';
}

const X86_FEATURES: Record<string, CpuFeature> = {
  avx2: 'avx2',
  fma: 'fma',
  avx512f: 'avx512f',
  avx512_vnni: 'avx512vnni',
  avx512_bf16: 'avx512bf16',
  avx_vnni: 'avxvnni',
  amx_tile: 'amx',
  avx512_fp16: 'fp16',
};

const ARM_FEATURES: Record<string, CpuFeature> = {
  asimd: 'neon',
  neon: 'neon',
  asimddp: 'dotprod',
  asimdhp: 'fp16',
  i8mm: 'i8mm',
  bf16: 'bf16',
  sve: 'sve',
};

/**
 * Maps kernel flag words to the normalised feature set, sorted. `fp16` on arm needs FP16 vector
 * arithmetic (asimdhp), not just conversions; on x86 it needs AVX512-FP16 (F16C only converts).
 */
export function normalizeFeatures(arch: CpuInfo['arch'], raw: readonly string[]): CpuFeature[] {
  const table = arch === 'x86_64' ? X86_FEATURES : arch === 'unknown' ? {} : ARM_FEATURES;
  const out = new Set<CpuFeature>();
  for (const word of raw) {
    const f = table[word.toLowerCase()];
    if (f) out.add(f);
  }
  return [...out].sort();
}

/** The features every processor has (a big.LITTLE chip may differ per cluster: use the common set). */
export function commonFeatures(info: Cpuinfo): string[] {
  const [first, ...rest] = info.processors;
  if (!first) return [];
  return first.features.filter((f) => rest.every((p) => p.features.length === 0 || p.features.includes(f)));
}

/** arm implementer 0x41 part numbers → core names (from the Arm TRMs / Linux arch/arm64 cputype.h). */
const ARM_PARTS: Record<string, string> = {
  '0xd03': 'cortex-a53',
  '0xd04': 'cortex-a35',
  '0xd05': 'cortex-a55',
  '0xd07': 'cortex-a57',
  '0xd08': 'cortex-a72',
  '0xd09': 'cortex-a73',
  '0xd0a': 'cortex-a75',
  '0xd0b': 'cortex-a76',
  '0xd0d': 'cortex-a77',
  '0xd41': 'cortex-a78',
  '0xd42': 'cortex-a78ae',
  '0xd44': 'cortex-x1',
  '0xd46': 'cortex-a510',
  '0xd47': 'cortex-a710',
  '0xd48': 'cortex-x2',
  '0xd4d': 'cortex-a715',
  '0xd4e': 'cortex-x3',
};

export function armCoreType(implementer: string | undefined, part: string | undefined): string | undefined {
  if (!part) return undefined;
  if (implementer === '0x41') return ARM_PARTS[part];
  if (implementer === '0x4e' && part === '0x004') return 'nvidia-carmel';
  return undefined;
}

/** Per-CPU cpufreq limits in kHz, as sysfs reports them. */
export interface CpuFreqLimits {
  cpu: number;
  maxKhz?: number;
  minKhz?: number;
}

/**
 * Groups CPUs into clusters of the same core type and max frequency (big.LITTLE on arm, P/E cores
 * on hybrid x86). Without cpufreq (VMs, containers) every CPU of one type is one cluster.
 */
export function groupClusters(info: Cpuinfo, freqs: readonly CpuFreqLimits[]): CpuCluster[] {
  const byKey = new Map<string, CpuCluster>();
  for (const p of info.processors) {
    const f = freqs.find((x) => x.cpu === p.index);
    const coreType = armCoreType(p.implementer, p.part) ?? p.modelName;
    const key = `${coreType ?? '?'}|${f?.maxKhz ?? '?'}`;
    let cluster = byKey.get(key);
    if (!cluster) {
      cluster = {
        cpus: [],
        ...(coreType ? { coreType } : {}),
        ...(f?.maxKhz ? { maxMhz: f.maxKhz / 1000 } : {}),
        ...(f?.minKhz ? { minMhz: f.minKhz / 1000 } : {}),
      };
      byKey.set(key, cluster);
    }
    cluster.cpus.push(p.index);
  }
  // Biggest cores first, the way people talk about them ("4× A76").
  return [...byKey.values()].sort((a, b) => (b.maxMhz ?? 0) - (a.maxMhz ?? 0) || a.cpus[0]! - b.cpus[0]!);
}

/** cgroup v2 `cpu.max` ("200000 100000" or "max 100000") → CPUs' worth of quota, undefined when unlimited. */
export function parseCpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (!quota || quota === 'max') return undefined;
  const q = Number(quota);
  const p = Number(period ?? 100000);
  if (!Number.isFinite(q) || !Number.isFinite(p) || q <= 0 || p <= 0) return undefined;
  return q / p;
}

/** cgroup v1 cfs_quota_us / cfs_period_us → CPUs' worth of quota; -1 means unlimited. */
export function cfsQuotaCores(quotaUs: number | undefined, periodUs: number | undefined): number | undefined {
  if (quotaUs === undefined || periodUs === undefined || quotaUs <= 0 || periodUs <= 0) return undefined;
  return quotaUs / periodUs;
}
