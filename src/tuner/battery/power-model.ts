import { BOARDS, type BoardDescriptor } from '../../hardware/boards.js';

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
 * Per family: the board descriptors' power defaults (src/hardware/boards.ts, one place for what a
 * family has), plus `x86-laptop`, the battery-powered x86 case the descriptors leave open (the x86
 * family spans servers to tablets).
 */
const X86_LAPTOP: FamilyDefaults = {
  idleW: 5.0,
  activeW: 28.0,
  basis:
    '15 W-TDP U-series laptop, screen off: ~4-6 W idle, ~25-30 W at the battery with all cores busy (notebookcheck.net battery-drain measurements)',
};

export function familyPowerDefaults(family: string): FamilyDefaults | undefined {
  if (family === 'x86-laptop') return X86_LAPTOP;
  const d = BOARDS.find((b: BoardDescriptor) => b.family === family) as BoardDescriptor | undefined;
  return d?.power;
}

/** The family whose defaults apply: the board's own, else a battery-powered x86 is a laptop. */
export function powerFamily(boardFamily: string, hasBattery: boolean): string | undefined {
  if (familyPowerDefaults(boardFamily)) return boardFamily;
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
  const d = familyPowerDefaults(family ?? 'raspberry-pi-4')!;
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
