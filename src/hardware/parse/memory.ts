/** /proc/meminfo values in bytes (the kernel prints kB = KiB). */
export interface Meminfo {
  totalBytes?: number;
  availableBytes?: number;
  freeBytes?: number;
  swapTotalBytes?: number;
  swapFreeBytes?: number;
}

/** Parses /proc/meminfo; missing keys stay undefined (old kernels < 3.14 have no MemAvailable). */
export function parseMeminfo(text: string): Meminfo {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?:\s*kB)?\s*$/.exec(line.trim());
    if (m) kb.set(m[1]!, Number(m[2]) * 1024);
  }
  const free = kb.get('MemFree');
  // Without MemAvailable, free + page cache is the kernel's own pre-3.14 estimate.
  const available =
    kb.get('MemAvailable') ??
    (free === undefined ? undefined : free + (kb.get('Cached') ?? 0) + (kb.get('Buffers') ?? 0));
  return {
    totalBytes: kb.get('MemTotal'),
    availableBytes: available,
    freeBytes: free,
    swapTotalBytes: kb.get('SwapTotal'),
    swapFreeBytes: kb.get('SwapFree'),
  };
}

/** cgroup v1 prints this (PAGE_COUNTER_MAX rounded to the page size) for "no limit". */
const V1_UNLIMITED_THRESHOLD = 2 ** 62;

/**
 * A cgroup memory limit file: v2 `memory.max` ("max" = unlimited) or v1 `memory.limit_in_bytes`
 * (9223372036854771712 = unlimited). Returns `null` for unlimited, undefined for garbage.
 */
export function parseCgroupLimit(text: string): number | null | undefined {
  const t = text.trim();
  if (t === 'max') return null;
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return n >= V1_UNLIMITED_THRESHOLD ? null : n;
}

/** One line of /proc/self/cgroup: `hierarchy-id:controllers:path`. */
export interface CgroupMembership {
  /** The unified (v2) path, from the `0::/path` line. */
  unified?: string;
  /** v1 controller → path (`memory` → `/docker/abc`). */
  v1: Record<string, string>;
}

export function parseProcCgroup(text: string): CgroupMembership {
  const out: CgroupMembership = { v1: {} };
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, p] = m;
    if (id === '0' && controllers === '') out.unified = p;
    else for (const c of controllers!.split(',')) if (c) out.v1[c] = p!;
  }
  return out;
}

/** The PSI line `some avg10=1.23 avg60=… total=…` from /proc/pressure/memory: avg10 in percent. */
export function parsePressureSomeAvg10(text: string): number | undefined {
  const m = /^some\s+avg10=([\d.]+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The first `cpu` line of /proc/stat, as jiffies totals. */
export interface CpuTimes {
  idle: number;
  total: number;
}

export function parseProcStat(text: string): CpuTimes | undefined {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const nums = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
    .filter((n) => Number.isFinite(n));
  if (nums.length < 4) return undefined;
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const [, , , idle = 0, iowait = 0] = nums;
  const total = nums.slice(0, 8).reduce((a, b) => a + b, 0);
  return { idle: idle + iowait, total };
}

/** Busy share between two /proc/stat readings, in percent; undefined when no time passed. */
export function cpuLoadPercent(prev: CpuTimes, cur: CpuTimes): number | undefined {
  const total = cur.total - prev.total;
  const idle = cur.idle - prev.idle;
  if (total <= 0 || idle < 0) return undefined;
  return Math.min(100, Math.max(0, (1 - idle / total) * 100));
}
