import type { CpuInfo, PowerSource } from './schema.js';

/**
 * Board descriptors: one per family, the single place that says what a family has. The profile
 * (readers/) and the live sampler (sample.ts) both ask here which sensors to read, instead of
 * testing the family name. A new family is one entry in BOARDS (docs/hardware.md "How to add a
 * board family") plus a fixture tree under test/fixtures/hardware/.
 */

export interface BoardSensors {
  /** Firmware throttling and under-voltage flags (`vcgencmd get_throttled`, Raspberry Pi). */
  vcgencmdThrottled: boolean;
  /** PMIC rail currents and voltages (`vcgencmd pmic_read_adc`, Raspberry Pi 5). */
  pmic: boolean;
  /** The power mode (`nvpmodel -q`, Jetson). */
  nvpmodel: boolean;
  /** An integrated Tegra GPU in /sys/class/devfreq is expected; its absence is reported. */
  tegraGpu: boolean;
  /** /etc/nv_tegra_release (Jetson Linux) is expected; its absence is reported. */
  l4tRelease: boolean;
  /** The `Revision` of /proc/cpuinfo is a Raspberry Pi revision code. */
  raspberryPiRevision: boolean;
}

/**
 * Power model DEFAULTS for planning before anything is measured (battery life, energy budgets):
 * typical draw of the bare board at its input, from published measurements and vendor power
 * budgets, not measured on this device. A board's own sensor (INA3221, RAPL, PMIC, battery)
 * always wins over these figures.
 */
export interface BoardPowerDefaults {
  /** Idle draw, OS booted, no load, no peripherals (W). */
  idleW: number;
  /** Draw with all CPU cores (and, on Jetson, the GPU at its default power mode) busy (W). */
  activeW: number;
  /** Where the figures come from. */
  basis: string;
}

export interface BoardDescriptor {
  family: string;
  /** Recognised by the device-tree model (or DMI string) or the `compatible` list; generic families by CPU arch. */
  detect: { model?: RegExp; compatible?: RegExp; arch?: ReadonlyArray<CpuInfo['arch']> };
  sensors: BoardSensors;
  /** The power source to assume when no power_supply entry says (the board's usual supply). */
  fallbackPowerSource?: { source: PowerSource; reason: string };
  /** Defaults, see BoardPowerDefaults; absent when the family spans too wide a range (x86, arm). */
  power?: BoardPowerDefaults;
}

const NO_SENSORS: BoardSensors = {
  vcgencmdThrottled: false,
  pmic: false,
  nvpmodel: false,
  tegraGpu: false,
  l4tRelease: false,
  raspberryPiRevision: false,
};
const PI_SENSORS: BoardSensors = { ...NO_SENSORS, vcgencmdThrottled: true, raspberryPiRevision: true };
const JETSON_SENSORS: BoardSensors = { ...NO_SENSORS, nvpmodel: true, tegraGpu: true, l4tRelease: true };
const PI_SUPPLY = {
  source: 'usb',
  reason: 'no power_supply entry; Raspberry Pi boards are powered over USB',
} as const;
const JETSON_SUPPLY = {
  source: 'mains',
  reason: 'no power_supply entry; Jetson developer kits run from a DC supply',
} as const;

/**
 * Every family, in detection order: the first whose model or compatible pattern matches wins, so
 * the more specific patterns come first. Jetson modules are told apart by their module part
 * numbers (p3767-0000/0001 = Orin NX 16/8 GB, 0003/0004/0005 = Orin Nano 8/4 GB/devkit), which
 * are stable across L4T releases, unlike the model text.
 */
export const BOARDS = [
  {
    family: 'raspberry-pi-5',
    detect: { model: /Raspberry Pi (5|500)|Compute Module 5/, compatible: /brcm,bcm2712/ },
    sensors: { ...PI_SENSORS, pmic: true },
    fallbackPowerSource: PI_SUPPLY,
    power: {
      idleW: 2.7,
      activeW: 7.0,
      basis: 'Pi 5 8 GB at the USB-C input: ~2.7 W idle, ~7 W with stress-ng on 4 cores (J. Geerling, 2023)',
    },
  },
  {
    family: 'raspberry-pi-4',
    detect: { model: /Raspberry Pi (4|400)|Compute Module 4/, compatible: /brcm,bcm2711/ },
    sensors: PI_SENSORS,
    fallbackPowerSource: PI_SUPPLY,
    power: {
      idleW: 2.7,
      activeW: 6.4,
      basis:
        'Pi 4B at the USB-C input: ~540 mA idle, ~1280 mA under 4-core stress at 5 V (raspberrypi.com, Tom’s Hardware, 2019)',
    },
  },
  {
    family: 'raspberry-pi-zero-2',
    detect: { model: /Raspberry Pi Zero 2/, compatible: /model-zero-2/ },
    sensors: PI_SENSORS,
    fallbackPowerSource: PI_SUPPLY,
    power: {
      idleW: 0.6,
      activeW: 3.0,
      basis:
        'Zero 2 W: ~120 mA idle, ~580 mA under 4-core stress at 5 V (raspberrypi.com launch figures, 2021)',
    },
  },
  {
    family: 'raspberry-pi-3',
    detect: { model: /Raspberry Pi 3|Compute Module 3/, compatible: /raspberrypi,3-/ },
    sensors: PI_SENSORS,
    fallbackPowerSource: PI_SUPPLY,
    power: {
      idleW: 1.9,
      activeW: 5.1,
      basis:
        'Pi 3B+: ~1.9 W idle, ~5.1 W under 4-core stress (RasPi.TV measurements, 2018); the 3B draws less',
    },
  },
  {
    family: 'jetson-orin-nx',
    detect: { model: /Orin NX/i, compatible: /p3767-000[01]\b/ },
    sensors: JETSON_SENSORS,
    fallbackPowerSource: JETSON_SUPPLY,
    power: {
      idleW: 5.0,
      activeW: 25.0,
      basis:
        'Orin NX 16 GB: ~5 W idle at the module input; 10/15/25 W nvpmodel budgets, 25 W taken as active (NVIDIA Jetson Orin NX data sheet)',
    },
  },
  {
    family: 'jetson-orin-nano',
    detect: { model: /Orin Nano/i, compatible: /p3767-000[3-5]\b/ },
    sensors: JETSON_SENSORS,
    fallbackPowerSource: JETSON_SUPPLY,
    power: {
      idleW: 4.5,
      activeW: 15.0,
      basis:
        'Orin Nano 8 GB developer kit: ~4.5 W idle with fan; 7/15 W nvpmodel budgets (25 W "Super"), 15 W taken as active (NVIDIA data sheet, forum measurements)',
    },
  },
  {
    family: 'jetson-agx-orin',
    detect: { model: /AGX Orin/i, compatible: /p3701-/ },
    sensors: JETSON_SENSORS,
    fallbackPowerSource: JETSON_SUPPLY,
    power: {
      idleW: 10.0,
      activeW: 40.0,
      basis:
        'AGX Orin 64 GB developer kit: ~10 W idle; 15-60 W nvpmodel budgets, 40 W (the 32 GB module’s MAXN) taken as active (NVIDIA data sheet)',
    },
  },
  {
    family: 'jetson-xavier-nx',
    detect: { model: /Xavier NX/i, compatible: /p3668-/ },
    sensors: JETSON_SENSORS,
    fallbackPowerSource: JETSON_SUPPLY,
    power: {
      idleW: 3.5,
      activeW: 15.0,
      basis:
        'Xavier NX developer kit: ~3.5 W idle; 10/15/20 W nvpmodel budgets, 15 W taken as active (NVIDIA data sheet)',
    },
  },
  {
    family: 'jetson-nano',
    detect: { model: /Jetson[ -]Nano/i, compatible: /p3448-|p3450-|jetson-nano/ },
    sensors: JETSON_SENSORS,
    fallbackPowerSource: JETSON_SUPPLY,
    power: {
      idleW: 1.9,
      activeW: 10.0,
      basis:
        'Jetson Nano developer kit: ~1.9 W idle at the 5 V input; 5/10 W nvpmodel budgets, 10 W (MAXN) taken as active (NVIDIA data sheet)',
    },
  },
  // Generic families, by CPU architecture, when no board pattern matched.
  { family: 'x86', detect: { arch: ['x86_64'] }, sensors: NO_SENSORS },
  { family: 'arm', detect: { arch: ['aarch64', 'armv7l'] }, sensors: NO_SENSORS },
  { family: 'unknown', detect: {}, sensors: NO_SENSORS },
] as const satisfies readonly BoardDescriptor[];

export type BoardFamily = (typeof BOARDS)[number]['family'];
export const BOARD_FAMILIES = BOARDS.map((b) => b.family) as [BoardFamily, ...BoardFamily[]];

const BY_FAMILY = new Map<string, BoardDescriptor>(BOARDS.map((b) => [b.family, b]));

/** The descriptor of a family (every BoardFamily has one). */
export function boardDescriptor(family: BoardFamily): BoardDescriptor {
  return BY_FAMILY.get(family)!;
}

/** The first family whose patterns match the model or compatible strings, else the arch's generic one. */
export function classifyBoard(
  model: string | undefined,
  compatible: readonly string[],
  arch: CpuInfo['arch'],
): BoardFamily {
  const m = model ?? '';
  const c = compatible.join(' ');
  const hit = BOARDS.find((b: BoardDescriptor) => {
    const d = b.detect;
    return (d.model?.test(m) ?? false) || (d.compatible?.test(c) ?? false);
  });
  if (hit) return hit.family;
  return BOARDS.find((b: BoardDescriptor) => b.detect.arch?.includes(arch))?.family ?? 'unknown';
}
