/**
 * The power mode that selects the active constraint set (DESIGN.md "Choosing a variant"):
 * mains, battery, battery low, or thermal throttled. Pure; the hardware sampler supplies the
 * readings and already debounces source changes and throttling.
 */
export type PowerMode = 'mains' | 'battery' | 'battery-low' | 'throttled';

export interface PowerReadings {
  powerSource: 'mains' | 'battery' | 'usb' | 'unknown';
  batteryPercent?: number | undefined;
  throttled: boolean;
}

export interface PowerModeOptions {
  /** At or below this battery percentage (on battery) the mode is battery-low. */
  lowBatteryPercent: number;
  /** Leave battery-low only above lowBatteryPercent + this, so the mode does not flap. */
  hysteresisPercent: number;
}

export const DEFAULT_POWER_MODE_OPTIONS: PowerModeOptions = { lowBatteryPercent: 20, hysteresisPercent: 3 };

export function powerMode(
  readings: PowerReadings,
  previous: PowerMode | undefined,
  options: PowerModeOptions = DEFAULT_POWER_MODE_OPTIONS,
): PowerMode {
  if (readings.throttled) return 'throttled';
  if (readings.powerSource !== 'battery') return 'mains';
  const percent = readings.batteryPercent;
  if (percent === undefined) return 'battery';
  const limit =
    previous === 'battery-low'
      ? options.lowBatteryPercent + options.hysteresisPercent
      : options.lowBatteryPercent;
  return percent <= limit ? 'battery-low' : 'battery';
}
