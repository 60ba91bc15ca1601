import { describe, expect, it } from 'vitest';
import { type PowerMode, type PowerReadings, powerMode } from '../../../src/tuner/power-mode.js';

describe('powerMode', () => {
  it.each<[PowerReadings, PowerMode | undefined, PowerMode]>([
    [{ powerSource: 'mains', throttled: false }, undefined, 'mains'],
    [{ powerSource: 'usb', throttled: false }, undefined, 'mains'],
    [{ powerSource: 'unknown', throttled: false }, undefined, 'mains'],
    [{ powerSource: 'battery', batteryPercent: 80, throttled: false }, undefined, 'battery'],
    [{ powerSource: 'battery', throttled: false }, undefined, 'battery'],
    [{ powerSource: 'battery', batteryPercent: 20, throttled: false }, 'battery', 'battery-low'],
    [{ powerSource: 'battery', batteryPercent: 15, throttled: true }, 'battery-low', 'throttled'],
    [{ powerSource: 'mains', batteryPercent: 5, throttled: false }, 'battery-low', 'mains'],
  ])('%j after %s is %s', (readings, previous, expected) => {
    expect(powerMode(readings, previous)).toBe(expected);
  });

  it('does not flap around the low-battery threshold', () => {
    const at = (percent: number, previous: PowerMode | undefined) =>
      powerMode({ powerSource: 'battery', batteryPercent: percent, throttled: false }, previous);
    let mode: PowerMode | undefined;
    const seen: PowerMode[] = [];
    for (const percent of [25, 21, 20, 21, 22, 23, 22, 24]) {
      mode = at(percent, mode);
      seen.push(mode);
    }
    // Enters at 20 %, stays low until above 23 %.
    expect(seen).toEqual([
      'battery',
      'battery',
      'battery-low',
      'battery-low',
      'battery-low',
      'battery-low',
      'battery-low',
      'battery',
    ]);
  });
});
