/**
 * The power model the battery planner uses when the device cannot measure itself: the board's idle
 * and all-cores-busy draw at its input, and what a running camera adds. Figures are DEFAULTS from
 * published measurements (the `basis` of each), never measured here; every plan made from them is
 * marked `estimated`. `power.model` in the config overrides any figure (docs/battery.md).
 */

export interface PowerModel {
  /** Board idle, camera released, no inference (W). */
  idleW: number;
  /** All CPU cores busy (W); (activeW − idleW) / cores is the marginal draw of one busy core. */
  activeW: number;
  /** What a streaming camera adds (W). */
  cameraW: number;
  /** Seconds a released camera runs per wake-up (start, exposure settling, warm-up frames). */
  cameraWakeS: number;
  /** Where the figures come from. */
  basis: string;
  /** The family the defaults were taken from (`generic` when none matched). */
  family: string;
}

export type PowerModelOverrides = Partial<Pick<PowerModel, 'idleW' | 'activeW' | 'cameraW' | 'cameraWakeS'>>;

interface FamilyDefaults {
  idleW: number;
  activeW: number;
  basis: string;
}

// A CSI or USB camera streaming at 720p/1080p: Raspberry Pi Camera Module 2 data sheet ~250 mA
// at 5 V; UVC webcams are 0.5-1.5 W (USB bus-powered, ≤ 500 mA). 1 W is the middle.
const CAMERA_W = 1.0;
const CAMERA_BASIS = 'camera ~1 W streaming (Pi Camera Module 2: ~250 mA at 5 V; UVC webcams 0.5-1.5 W)';
// libcamera/V4L2 start-up plus the exposure warm-up frames (pipeline.warmupFrames, 3 at ~10 fps).
const CAMERA_WAKE_S = 1.5;

/**
 * Per family, at the board's power input, bare board, no peripherals. The Raspberry Pi and Jetson
 * figures are the same as the board descriptors' power defaults (src/hardware/boards.ts, helper
 * arch-core); `x86-laptop` is the battery-powered x86 case those leave open.
 */
export const FAMILY_POWER_DEFAULTS: Record<string, FamilyDefaults> = {
  'raspberry-pi-5': {
    idleW: 2.7,
    activeW: 7.0,
    basis: 'Pi 5 8 GB at the USB-C input: ~2.7 W idle, ~7 W with stress-ng on 4 cores (J. Geerling, 2023)',
  },
  'raspberry-pi-4': {
    idleW: 2.7,
    activeW: 6.4,
    basis:
      'Pi 4B at the USB-C input: ~540 mA idle, ~1280 mA under 4-core stress at 5 V (raspberrypi.com, Tom’s Hardware, 2019)',
  },
  'raspberry-pi-zero-2': {
    idleW: 0.6,
    activeW: 3.0,
    basis:
      'Zero 2 W: ~120 mA idle, ~580 mA under 4-core stress at 5 V (raspberrypi.com launch figures, 2021)',
  },
  'raspberry-pi-3': {
    idleW: 1.9,
    activeW: 5.1,
    basis: 'Pi 3B+: ~1.9 W idle, ~5.1 W under 4-core stress (RasPi.TV measurements, 2018)',
  },
  'jetson-orin-nano': {
    idleW: 4.5,
    activeW: 15.0,
    basis:
      'Orin Nano 8 GB developer kit: ~4.5 W idle with fan; 7/15 W nvpmodel budgets, 15 W taken as active (NVIDIA data sheet, forum measurements); set power.model.activeW to 7 in the 7 W mode',
  },
  'jetson-orin-nx': {
    idleW: 5.0,
    activeW: 25.0,
    basis: 'Orin NX 16 GB: ~5 W idle; 10/15/25 W nvpmodel budgets, 25 W taken as active (NVIDIA data sheet)',
  },
  'jetson-nano': {
    idleW: 1.9,
    activeW: 10.0,
    basis:
      'Jetson Nano developer kit: ~1.9 W idle at 5 V; 5/10 W nvpmodel budgets, 10 W (MAXN) as active (NVIDIA)',
  },
  'x86-laptop': {
    idleW: 5.0,
    activeW: 28.0,
    basis:
      '15 W-TDP U-series laptop, screen off: ~4-6 W idle, ~25-30 W at the battery with all cores busy (notebookcheck.net battery-drain measurements)',
  },
};

/** The family whose defaults apply: the board's own, else a battery-powered x86 is a laptop. */
export function powerFamily(boardFamily: string, hasBattery: boolean): string | undefined {
  if (FAMILY_POWER_DEFAULTS[boardFamily]) return boardFamily;
  if (boardFamily === 'x86' && hasBattery) return 'x86-laptop';
  return undefined;
}

/**
 * The model for a board family (Pi 4-like when nothing is known: the most common battery board),
 * with the config's overrides on top. Pure.
 */
export function powerModelFor(
  boardFamily: string,
  hasBattery: boolean,
  overrides: PowerModelOverrides = {},
): PowerModel {
  const family = powerFamily(boardFamily, hasBattery);
  const d = FAMILY_POWER_DEFAULTS[family ?? 'raspberry-pi-4']!;
  const overridden = Object.keys(overrides).filter(
    (k) => overrides[k as keyof PowerModelOverrides] !== undefined,
  );
  const basis = [
    family ? d.basis : `no defaults for "${boardFamily}"; Raspberry Pi 4 figures assumed (${d.basis})`,
    CAMERA_BASIS,
    ...(overridden.length ? [`overridden in config: ${overridden.join(', ')}`] : []),
  ].join('; ');
  return {
    idleW: overrides.idleW ?? d.idleW,
    activeW: overrides.activeW ?? d.activeW,
    cameraW: overrides.cameraW ?? CAMERA_W,
    cameraWakeS: overrides.cameraWakeS ?? CAMERA_WAKE_S,
    basis,
    family: family ?? 'generic',
  };
}

/** Marginal energy of one inference from its CPU time: each busy core adds (active − idle) / cores. */
export function estimatedJoulesPerInference(
  model: PowerModel,
  cpuMsPerInference: number,
  cores: number,
): number {
  const perCoreW = Math.max(0, model.activeW - model.idleW) / Math.max(1, cores);
  return (cpuMsPerInference / 1000) * perCoreW;
}
