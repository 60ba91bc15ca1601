import { boardDescriptor } from '../boards.js';
import { COMMANDS, type Host, readInt, readString } from '../host.js';
import { parseCudaVersion, parseNvidiaSmi } from '../parse/thermal.js';
import type { AcceleratorInfo, BoardFamily, GpuInfo, PowerSensor } from '../schema.js';
import type { Miss } from './system.js';

/** Tegra GPU devfreq node names across L4T releases (Nano 57000000.gpu, Xavier 17000000.gv11b, Orin 17000000.ga10b/.gpu). */
const TEGRA_GPU = /^(57000000\.gpu|17000000\.(gv11b|ga10b|gpu)|gpu\.0|17000000\.gp10b)$/;

const TEGRA_GPU_NAMES: Record<string, string> = {
  tegra210: 'NVIDIA Maxwell GPU (Tegra X1, 128 CUDA cores)',
  tegra186: 'NVIDIA Pascal GPU (Tegra X2, 256 CUDA cores)',
  tegra194: 'NVIDIA Volta GPU (Xavier, 384 CUDA cores)',
  tegra234: 'NVIDIA Ampere GPU (Orin)',
};

async function readCudaVersion(host: Host): Promise<string | undefined> {
  for (const f of ['/usr/local/cuda/version.json', '/usr/local/cuda/version.txt']) {
    const r = await host.readText(f);
    if (r.ok) return parseCudaVersion(r.text);
  }
  return undefined;
}

/** The Jetson integrated GPU from its devfreq node (frequencies in Hz). */
async function readTegraGpu(host: Host, soc: string | undefined): Promise<GpuInfo | undefined> {
  const node = (await host.list('/sys/class/devfreq')).find((n) => TEGRA_GPU.test(n));
  if (!node) return undefined;
  const dir = `/sys/class/devfreq/${node}`;
  const [maxHz, curHz, cudaVersion] = await Promise.all([
    readInt(host, `${dir}/max_freq`),
    readInt(host, `${dir}/cur_freq`),
    readCudaVersion(host),
  ]);
  return {
    kind: 'integrated',
    vendor: 'nvidia',
    name: (soc && TEGRA_GPU_NAMES[soc]) ?? `NVIDIA Tegra GPU (${node})`,
    ...(maxHz ? { maxMhz: Math.round(maxHz / 1e6) } : {}),
    ...(curHz ? { curMhz: Math.round(curHz / 1e6) } : {}),
    ...(cudaVersion ? { cudaVersion } : {}),
  };
}

export interface GpuRead {
  gpu: GpuInfo[];
  /** nvidia-smi power.draw per discrete GPU, for the power section. */
  sensors: PowerSensor[];
}

export async function readGpus(
  host: Host,
  family: BoardFamily,
  soc: string | undefined,
  miss: Miss,
): Promise<GpuRead> {
  const gpu: GpuInfo[] = [];
  const tegra = await readTegraGpu(host, soc);
  if (tegra) gpu.push(tegra);
  else if (boardDescriptor(family).sensors.tegraGpu) miss('gpu', '/sys/class/devfreq: no Tegra GPU node');
  const sensors: PowerSensor[] = [];
  // JetPack 6 ships an nvidia-smi that lists the integrated GPU with N/A fields: the devfreq node says more.
  if (!tegra) {
    const r = await host.exec(COMMANDS.nvidiaSmi);
    if (r.ok) {
      const found = parseNvidiaSmi(r.stdout);
      if (found.length === 0) miss('gpu', 'nvidia-smi: no GPU rows in the output');
      const cudaVersion = found.length ? await readCudaVersion(host) : undefined;
      found.forEach((g, i) => {
        gpu.push(cudaVersion ? { ...g, cudaVersion } : g);
        if (g.powerW !== undefined) {
          sensors.push({
            name: `gpu${i}`,
            kind: 'nvidia-smi',
            total: false,
            powerW: g.powerW,
            path: 'nvidia-smi',
          });
        }
      });
    } else if (!r.missing) miss('gpu', r.reason);
  }
  return { gpu, sensors };
}

/** USB ids of the Coral USB Accelerator: before its firmware is loaded, and after. */
const CORAL_USB = new Set(['1a6e:089a', '18d1:9302']);

/**
 * Accelerators edge-agent can see but not (yet) run models on: Coral Edge TPU (PCIe /dev/apex_N or
 * the USB stick) and Hailo-8/8L (/dev/hailoN, e.g. the Raspberry Pi AI Kit).
 */
export async function readAccelerators(host: Host): Promise<AcceleratorInfo[]> {
  const found: AcceleratorInfo[] = [];
  for (const dev of await host.list('/dev')) {
    if (/^apex_\d+$/.test(dev)) {
      found.push({
        kind: 'coral-edgetpu',
        interface: 'pcie',
        device: `/dev/${dev}`,
        supported: false,
        note: 'Coral Edge TPU (PCIe) detected; needs Edge TPU-compiled TFLite models, which onnxruntime cannot run',
      });
    } else if (/^hailo\d+$/.test(dev)) {
      found.push({
        kind: 'hailo',
        interface: 'pcie',
        device: `/dev/${dev}`,
        supported: false,
        note: 'Hailo accelerator detected; needs HEF models compiled with the Hailo Dataflow Compiler, not ONNX',
      });
    }
  }
  for (const usb of await host.list('/sys/bus/usb/devices')) {
    const dir = `/sys/bus/usb/devices/${usb}`;
    const [vendor, product] = await Promise.all([
      readString(host, `${dir}/idVendor`),
      readString(host, `${dir}/idProduct`),
    ]);
    if (!vendor || !product) continue;
    const id = `${vendor}:${product}`.toLowerCase();
    if (CORAL_USB.has(id)) {
      found.push({
        kind: 'coral-edgetpu',
        interface: 'usb',
        device: `usb ${id} (${usb})`,
        supported: false,
        note: 'Coral USB Accelerator detected; needs Edge TPU-compiled TFLite models, which onnxruntime cannot run',
      });
    }
  }
  return found;
}
