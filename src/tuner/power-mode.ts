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
  /** The hottest thermal zone, °C (for `hotTemperatureC`). */
  temperatureC?: number | undefined;
}

export interface PowerModeOptions {
  /** At or below this battery percentage (on battery) the mode is battery-low. */
  lowBatteryPercent: number;
  /** Leave battery-low only above lowBatteryPercent + this, so the mode does not flap. */
  hysteresisPercent: number;
  /** At or above this (hottest zone) the mode is throttled before the kernel caps the clock. */
  hotTemperatureC?: number | undefined;
  /** Leave the hot state only below hotTemperatureC - this. */
  temperatureHysteresisC?: number | undefined;
}

export const DEFAULT_POWER_MODE_OPTIONS: PowerModeOptions = { lowBatteryPercent: 20, hysteresisPercent: 3 };

export function powerMode(
  readings: PowerReadings,
  previous: PowerMode | undefined,
  options: PowerModeOptions = DEFAULT_POWER_MODE_OPTIONS,
): PowerMode {
  if (readings.throttled) return 'throttled';
  const hot = options.hotTemperatureC;
  if (hot !== undefined && readings.temperatureC !== undefined) {
    const limit = previous === 'throttled' ? hot - (options.temperatureHysteresisC ?? 5) : hot;
    if (readings.temperatureC >= limit) return 'throttled';
  }
  if (readings.powerSource !== 'battery') return 'mains';
  const percent = readings.batteryPercent;
  if (percent === undefined) return 'battery';
  const limit =
    previous === 'battery-low'
      ? options.lowBatteryPercent + options.hysteresisPercent
      : options.lowBatteryPercent;
  return percent <= limit ? 'battery-low' : 'battery';
}
