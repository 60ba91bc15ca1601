import { boardDescriptor, classifyBoard } from '../boards.js';
import { type Host, readInt, readString } from '../host.js';
import {
  detectContainer,
  detectVirtualization,
  jetpackForL4t,
  parseCompatible,
  parseDeviceTreeString,
  parseOsRelease,
  parseTegraRelease,
  socFromCompatible,
} from '../parse/board.js';
import {
  type CpuFreqLimits,
  type Cpuinfo,
  cfsQuotaCores,
  commonFeatures,
  cpuArch,
  groupClusters,
  normalizeFeatures,
  parseCpuinfo,
  parseCpuMax,
} from '../parse/cpu.js';
import { parseProcCgroup } from '../parse/memory.js';
import type { BoardInfo, CpuInfo, OsInfo } from '../schema.js';

/** Records a field that could not be read and why. */
export type Miss = (field: string, reason: string) => void;

export async function readCpuinfo(host: Host, miss: Miss): Promise<Cpuinfo> {
  const r = await host.readText('/proc/cpuinfo');
  if (!r.ok) {
    miss('cpu', r.reason);
    return { processors: [] };
  }
  const info = parseCpuinfo(r.text);
  if (info.processors.length === 0) miss('cpu', '/proc/cpuinfo: no "processor" entries');
  return info;
}

export async function readBoard(host: Host, cpuinfo: Cpuinfo, miss: Miss): Promise<BoardInfo> {
  const [dtModel, dtCompatible, dmiVendor, dmiProduct, dmiVersion, tegra, hypervisorType] = await Promise.all(
    [
      host.readText('/proc/device-tree/model'),
      host.readText('/proc/device-tree/compatible'),
      readString(host, '/sys/class/dmi/id/sys_vendor'),
      readString(host, '/sys/class/dmi/id/product_name'),
      readString(host, '/sys/class/dmi/id/product_version'),
      host.readText('/etc/nv_tegra_release'),
      readString(host, '/sys/hypervisor/type'),
    ],
  );
  const compatible = dtCompatible.ok ? parseCompatible(dtCompatible.text) : [];
  const dmiModel = [
    dmiVendor,
    dmiProduct,
    dmiVersion && !/^(None|Not Specified|To be filled.*)$/i.test(dmiVersion) ? dmiVersion : undefined,
  ]
    .filter(Boolean)
    .join(' ');
  const model =
    (dtModel.ok ? parseDeviceTreeString(dtModel.text) : undefined) ??
    (dmiModel || undefined) ??
    cpuinfo.model;
  if (!model) miss('board.model', 'no /proc/device-tree/model and no /sys/class/dmi/id/product_name');
  const arch = cpuArch(cpuinfo);
  const family = classifyBoard(model, compatible, arch);
  const soc = socFromCompatible(compatible);

  let l4tRelease: string | undefined;
  let jetpack: string | undefined;
  if (tegra.ok) {
    l4tRelease = parseTegraRelease(tegra.text);
    if (!l4tRelease)
      miss(
        'board.l4tRelease',
        `/etc/nv_tegra_release: unrecognised "${tegra.text.split('\n')[0]?.slice(0, 80)}"`,
      );
    else {
      jetpack = jetpackForL4t(l4tRelease);
      if (!jetpack) miss('board.jetpack', `L4T ${l4tRelease} is not in the known JetPack release table`);
    }
  } else if (boardDescriptor(family).sensors.l4tRelease) miss('board.l4tRelease', tegra.reason);

  const [dockerenv, containerenv, systemdContainer, selfCgroup, initCgroup] = await Promise.all([
    host.exists('/.dockerenv'),
    host.exists('/run/.containerenv'),
    readString(host, '/run/systemd/container'),
    host.readText('/proc/self/cgroup'),
    host.readText('/proc/1/cgroup'),
  ]);
  const cgroupPaths = [selfCgroup, initCgroup].flatMap((r) => {
    if (!r.ok) return [];
    const m = parseProcCgroup(r.text);
    return [m.unified ?? '', ...Object.values(m.v1)].filter(Boolean);
  });
  const virt = detectVirtualization({
    cpuFlags: cpuinfo.processors[0]?.features ?? [],
    dmiVendor,
    dmiProduct,
    hypervisorType,
    compatible,
  });
  const cont = detectContainer({ dockerenv, containerenv, systemdContainer, cgroupPaths });
  return {
    ...(model ? { model } : {}),
    family,
    ...(soc ? { soc } : {}),
    compatible,
    ...(boardDescriptor(family).sensors.raspberryPiRevision && cpuinfo.revision
      ? { raspberryPiRevision: cpuinfo.revision }
      : {}),
    ...(l4tRelease ? { l4tRelease } : {}),
    ...(jetpack ? { jetpack } : {}),
    ...virt,
    ...cont,
  };
}

export async function readOs(host: Host, miss: Miss): Promise<OsInfo> {
  const [kernel, hostname, osRelease] = await Promise.all([
    readString(host, '/proc/sys/kernel/osrelease'),
    readString(host, '/proc/sys/kernel/hostname').then(async (h) => h ?? readString(host, '/etc/hostname')),
    host.readText('/etc/os-release'),
  ]);
  const rel = osRelease.ok ? parseOsRelease(osRelease.text) : {};
  const distro = rel.PRETTY_NAME ?? ([rel.NAME, rel.VERSION].filter(Boolean).join(' ') || undefined);
  if (!kernel) miss('os.kernel', '/proc/sys/kernel/osrelease: absent');
  if (!distro) miss('os.distro', osRelease.ok ? '/etc/os-release: no PRETTY_NAME' : osRelease.reason);
  return { ...(kernel ? { kernel } : {}), ...(distro ? { distro } : {}), ...(hostname ? { hostname } : {}) };
}

export interface CpuRead {
  cpu: CpuInfo;
  /** CPUs whose policy max is below the hardware max, for the throttling section. */
  cappedCpus: Array<{ cpu: number; scalingMaxMhz: number; maxMhz: number }>;
}

const CPU_DIR = '/sys/devices/system/cpu';

export async function readCpu(host: Host, cpuinfo: Cpuinfo, miss: Miss): Promise<CpuRead> {
  const arch = cpuArch(cpuinfo);
  const raw = commonFeatures(cpuinfo);
  const indices = cpuinfo.processors.length
    ? cpuinfo.processors.map((p) => p.index)
    : (await host.list(CPU_DIR)).flatMap((n) => (/^cpu\d+$/.test(n) ? [Number(n.slice(3))] : []));
  const freqs: Array<CpuFreqLimits & { scalingMaxKhz?: number; curKhz?: number }> = await Promise.all(
    indices.map(async (cpu) => {
      const dir = `${CPU_DIR}/cpu${cpu}/cpufreq`;
      const [maxKhz, minKhz, scalingMaxKhz, curKhz] = await Promise.all([
        readInt(host, `${dir}/cpuinfo_max_freq`),
        readInt(host, `${dir}/cpuinfo_min_freq`),
        readInt(host, `${dir}/scaling_max_freq`),
        readInt(host, `${dir}/scaling_cur_freq`),
      ]);
      return { cpu, maxKhz, minKhz, scalingMaxKhz, curKhz };
    }),
  );
  const governor = await readString(host, `${CPU_DIR}/cpu${indices[0] ?? 0}/cpufreq/scaling_governor`);
  if (freqs.every((f) => f.maxKhz === undefined))
    miss('cpu.maxMhz', `${CPU_DIR}/cpu*/cpufreq: absent (no cpufreq driver, typical of VMs)`);
  const maxKhz = Math.max(0, ...freqs.map((f) => f.maxKhz ?? 0));
  const curKhz = Math.max(0, ...freqs.map((f) => f.curKhz ?? 0));
  const cappedCpus = freqs.flatMap((f) =>
    f.maxKhz && f.scalingMaxKhz && f.scalingMaxKhz < f.maxKhz
      ? [{ cpu: f.cpu, scalingMaxMhz: f.scalingMaxKhz / 1000, maxMhz: f.maxKhz / 1000 }]
      : [],
  );
  const first = cpuinfo.processors[0];
  const quotaCores = await readCpuQuota(host);
  return {
    cpu: {
      arch,
      ...(first?.vendorId
        ? { vendor: first.vendorId }
        : first?.implementer
          ? { vendor: armVendor(first.implementer) }
          : {}),
      ...(first?.modelName ? { modelName: first.modelName } : {}),
      cores: cpuinfo.processors.length,
      ...(quotaCores ? { quotaCores } : {}),
      clusters: groupClusters(cpuinfo, freqs),
      features: normalizeFeatures(arch, raw),
      rawFeatures: raw,
      ...(governor ? { governor } : {}),
      ...(curKhz > 0 ? { curMhz: curKhz / 1000 } : {}),
      ...(maxKhz > 0 ? { maxMhz: maxKhz / 1000 } : {}),
    },
    cappedCpus,
  };
}

function armVendor(implementer: string): string {
  return { '0x41': 'ARM', '0x4e': 'NVIDIA', '0x51': 'Qualcomm', '0x61': 'Apple' }[implementer] ?? implementer;
}

/** The cgroup CPU quota: v2 cpu.max, v1 cfs_quota_us/cfs_period_us (namespace root). */
async function readCpuQuota(host: Host): Promise<number | undefined> {
  const v2 = await host.readText('/sys/fs/cgroup/cpu.max');
  if (v2.ok) return parseCpuMax(v2.text);
  const [quota, period] = await Promise.all([
    readInt(host, '/sys/fs/cgroup/cpu/cpu.cfs_quota_us'),
    readInt(host, '/sys/fs/cgroup/cpu/cpu.cfs_period_us'),
  ]);
  return cfsQuotaCores(quota, period);
}
