import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../errors.js';
import { type Host, readInt } from '../host.js';
import { parseCgroupLimit, parseMeminfo, parseProcCgroup } from '../parse/memory.js';
import type { MemoryInfo, StorageInfo } from '../schema.js';
import type { Miss } from './system.js';

export interface CgroupMemory {
  version: 1 | 2;
  /** The tightest limit on the way from this process's cgroup up to the namespace root. */
  limitBytes?: number;
  usageBytes?: number;
  /** Page cache the kernel reclaims before OOM (inactive_file), subtracted like `docker stats` does. */
  inactiveFileBytes?: number;
}

/** Candidate folders for a cgroup path: the path itself, then each parent, down to the mount root. */
function cgroupDirs(mount: string, cgroupPath: string | undefined): string[] {
  const dirs: string[] = [];
  let p = cgroupPath && cgroupPath !== '/' ? cgroupPath : '';
  for (;;) {
    dirs.push(`${mount}${p}`);
    if (!p) break;
    p = p.slice(0, p.lastIndexOf('/'));
  }
  return dirs;
}

/**
 * Reads the memory cgroup of this process (v2 `memory.max`, v1 `memory.limit_in_bytes`). Inside a
 * container the namespace root is the container's own cgroup; on a host, the path from
 * /proc/self/cgroup is followed and every ancestor's limit counts.
 */
export async function readCgroupMemory(host: Host): Promise<CgroupMemory | undefined> {
  const self = await host.readText('/proc/self/cgroup');
  const membership = self.ok ? parseProcCgroup(self.text) : { v1: {} as Record<string, string> };
  const isV2 = await host.exists('/sys/fs/cgroup/cgroup.controllers');
  const [mount, limitFile, usageFile, statKey, cgroupPath] = isV2
    ? ['/sys/fs/cgroup', 'memory.max', 'memory.current', 'inactive_file', membership.unified]
    : [
        '/sys/fs/cgroup/memory',
        'memory.limit_in_bytes',
        'memory.usage_in_bytes',
        'total_inactive_file',
        membership.v1.memory,
      ];
  let found = false;
  let limit: number | undefined;
  let usage: number | undefined;
  let inactive: number | undefined;
  for (const dir of cgroupDirs(mount, cgroupPath)) {
    const text = await host.readText(`${dir}/${limitFile}`);
    if (!text.ok) continue;
    const parsed = parseCgroupLimit(text.text);
    if (parsed === undefined) continue;
    // Usage and stats of the innermost cgroup that exists (this process's own).
    if (!found) {
      usage = await readInt(host, `${dir}/${usageFile}`);
      const stat = await host.readText(`${dir}/memory.stat`);
      if (stat.ok) {
        const m = new RegExp(`^${statKey} (\\d+)$`, 'm').exec(stat.text);
        if (m) inactive = Number(m[1]);
      }
    }
    found = true;
    if (parsed !== null) limit = limit === undefined ? parsed : Math.min(limit, parsed);
  }
  if (!found) return undefined;
  return {
    version: isV2 ? 2 : 1,
    ...(limit === undefined ? {} : { limitBytes: limit }),
    ...(usage === undefined ? {} : { usageBytes: usage }),
    ...(inactive === undefined ? {} : { inactiveFileBytes: inactive }),
  };
}

/** The pure part: the effective budget and headroom from meminfo and the cgroup. */
export function effectiveMemory(
  totalBytes: number,
  availableBytes: number,
  cgroup: CgroupMemory | undefined,
): { effectiveBudgetBytes: number; effectiveAvailableBytes: number } {
  const limit = cgroup?.limitBytes;
  if (limit === undefined)
    return { effectiveBudgetBytes: totalBytes, effectiveAvailableBytes: availableBytes };
  const used = Math.max(0, (cgroup?.usageBytes ?? 0) - (cgroup?.inactiveFileBytes ?? 0));
  return {
    effectiveBudgetBytes: Math.min(totalBytes, limit),
    effectiveAvailableBytes: Math.max(0, Math.min(availableBytes, limit - used)),
  };
}

export async function readMemory(host: Host, miss: Miss): Promise<MemoryInfo> {
  const r = await host.readText('/proc/meminfo');
  const info = r.ok ? parseMeminfo(r.text) : {};
  if (!r.ok) miss('memory', r.reason);
  else if (info.totalBytes === undefined) miss('memory.totalBytes', '/proc/meminfo: no MemTotal line');
  const totalBytes = info.totalBytes ?? 0;
  const availableBytes = info.availableBytes ?? 0;
  const cgroup = await readCgroupMemory(host);
  if (!cgroup) miss('memory.cgroup', '/sys/fs/cgroup: no memory controller found');
  return {
    totalBytes,
    availableBytes,
    swapTotalBytes: info.swapTotalBytes ?? 0,
    swapFreeBytes: info.swapFreeBytes ?? 0,
    ...(cgroup
      ? {
          cgroup: {
            version: cgroup.version,
            ...(cgroup.limitBytes === undefined ? {} : { limitBytes: cgroup.limitBytes }),
            ...(cgroup.usageBytes === undefined ? {} : { usageBytes: cgroup.usageBytes }),
          },
        }
      : {}),
    ...effectiveMemory(totalBytes, availableBytes, cgroup),
  };
}

/**
 * Free space on the data directory's filesystem (the folder or its nearest existing parent, so a
 * first run before the folder exists still answers).
 */
export async function readStorage(host: Host, dataDir: string, miss: Miss): Promise<StorageInfo | undefined> {
  // Live: relative to the working directory, like the config; a fixture tree: a device path under its root.
  let dir = host.live ? path.resolve(dataDir) : host.resolve(path.posix.resolve('/', dataDir));
  for (;;) {
    try {
      const s = await statfs(dir);
      return {
        path: host.live ? path.resolve(dataDir) : dataDir,
        totalBytes: s.blocks * s.bsize,
        freeBytes: s.bfree * s.bsize,
        availableBytes: s.bavail * s.bsize,
      };
    } catch (err) {
      const parent = path.dirname(dir);
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || parent === dir) {
        miss('storage', `${dataDir}: ${errorMessage(err)}`);
        return undefined;
      }
      dir = parent;
    }
  }
}
