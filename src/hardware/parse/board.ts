import { cleanText } from '../host.js';

/** `/proc/device-tree/model` is one NUL-terminated string. */
export function parseDeviceTreeString(text: string): string | undefined {
  const t = cleanText(text.split('\0')[0] ?? '');
  return t === '' ? undefined : t;
}

/** `/proc/device-tree/compatible` is a list of NUL-terminated strings, most specific first. */
export function parseCompatible(text: string): string[] {
  return text
    .split('\0')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** The SoC from `compatible` (the last, least specific entry names the chip: brcm,bcm2711, nvidia,tegra234). */
export function socFromCompatible(compatible: readonly string[]): string | undefined {
  for (let i = compatible.length - 1; i >= 0; i--) {
    const m = /^[\w-]+,((?:bcm|tegra|rk|sun\d|exynos|sdm|sm|msm|imx|mt|s\d|meson|a\d)[\w-]*)$/.exec(
      compatible[i]!,
    );
    if (m) return m[1];
  }
  return undefined;
}

/** The first line of /etc/nv_tegra_release: `# R36 (release), REVISION: 4.3, GCID: …`. */
export function parseTegraRelease(text: string): string | undefined {
  const m = /#\s*R(\d+)\s*\(release\),\s*REVISION:\s*(\d+)\.(\d+)/.exec(text);
  if (!m) return undefined;
  return `${m[1]}.${m[2]}.${m[3]}`;
}

/** L4T → JetPack, from NVIDIA's Jetson Linux release pages (production releases only). */
const JETPACK_BY_L4T: Record<string, string> = {
  '32.4.3': '4.4',
  '32.4.4': '4.4.1',
  '32.5.0': '4.5',
  '32.5.1': '4.5.1',
  '32.6.1': '4.6',
  '32.7.1': '4.6.1',
  '32.7.2': '4.6.2',
  '32.7.3': '4.6.3',
  '32.7.4': '4.6.4',
  '32.7.5': '4.6.5',
  '32.7.6': '4.6.6',
  '35.1.0': '5.0.2',
  '35.2.1': '5.1',
  '35.3.1': '5.1.1',
  '35.4.1': '5.1.2',
  '35.5.0': '5.1.3',
  '35.6.0': '5.1.4',
  '36.3.0': '6.0',
  '36.4.0': '6.1',
  '36.4.3': '6.2',
  '36.4.4': '6.2.1',
};

export function jetpackForL4t(l4t: string): string | undefined {
  return JETPACK_BY_L4T[l4t];
}

/** /etc/os-release `KEY="value"` lines. */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

export interface VirtualizationInputs {
  cpuFlags: readonly string[];
  dmiVendor?: string;
  dmiProduct?: string;
  /** /sys/hypervisor/type (xen). */
  hypervisorType?: string;
  compatible: readonly string[];
}

/** Whether we run in a VM, and which hypervisor when it says so (DMI strings, the CPUID hypervisor bit). */
export function detectVirtualization(i: VirtualizationInputs): { virtualized: boolean; hypervisor?: string } {
  const dmi = `${i.dmiVendor ?? ''} ${i.dmiProduct ?? ''}`;
  const known: Array<[RegExp, string]> = [
    [/QEMU/i, 'qemu'],
    [/KVM/, 'kvm'],
    [/VMware/i, 'vmware'],
    [/VirtualBox|innotek/i, 'virtualbox'],
    [/Microsoft Corporation.*Virtual Machine/i, 'hyper-v'],
    [/Xen/i, 'xen'],
    [/Amazon EC2/i, 'aws-nitro'],
    [/Google Compute Engine/i, 'gce'],
    [/Parallels/i, 'parallels'],
    [/BHYVE/i, 'bhyve'],
  ];
  for (const [re, name] of known) if (re.test(dmi)) return { virtualized: true, hypervisor: name };
  if (i.hypervisorType) return { virtualized: true, hypervisor: i.hypervisorType };
  if (i.compatible.includes('linux,dummy-virt')) return { virtualized: true, hypervisor: 'qemu' };
  if (i.cpuFlags.includes('hypervisor')) return { virtualized: true };
  return { virtualized: false };
}

export interface ContainerInputs {
  dockerenv: boolean;
  containerenv: boolean;
  /** /run/systemd/container, written by systemd-nspawn, podman, lxc. */
  systemdContainer?: string;
  /** cgroup paths of PID 1 / this process. */
  cgroupPaths: readonly string[];
}

export function detectContainer(i: ContainerInputs): { container: boolean; containerRuntime?: string } {
  if (i.dockerenv) return { container: true, containerRuntime: 'docker' };
  if (i.containerenv) return { container: true, containerRuntime: 'podman' };
  if (i.systemdContainer) return { container: true, containerRuntime: i.systemdContainer };
  for (const p of i.cgroupPaths) {
    if (/kubepods/.test(p)) return { container: true, containerRuntime: 'kubernetes' };
    if (/docker|\/moby\//.test(p)) return { container: true, containerRuntime: 'docker' };
    if (/libpod/.test(p)) return { container: true, containerRuntime: 'podman' };
    if (/\/lxc[./]|lxc\.payload/.test(p)) return { container: true, containerRuntime: 'lxc' };
  }
  return { container: false };
}
