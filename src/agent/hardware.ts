import type { LiveSample, LiveSampler } from '../hardware/index.js';
import type { EventLog } from '../store/records.js';
import type { HardwareSample } from '../telemetry/sources.js';
import { type PowerMode, powerMode } from '../tuner/power-mode.js';

/** The sampler's reading in the shape telemetry takes (fields absent when the device lacks them). */
export function telemetryHardware(s: LiveSample | undefined): HardwareSample | undefined {
  if (!s) return undefined;
  return {
    temperaturesC: s.temperaturesC,
    throttled: s.throttled,
    ...(s.batteryPercent !== undefined ? { batteryPercent: s.batteryPercent } : {}),
    ...(s.charging !== undefined ? { batteryCharging: s.charging } : {}),
    ...(s.powerW !== undefined ? { powerW: s.powerW } : {}),
    ...(s.cpuLoadPercent !== undefined ? { cpuPercent: s.cpuLoadPercent } : {}),
  };
}

/** Tracks the power mode across samples (hysteresis needs the previous mode). */
export class PowerModeTracker {
  private mode: PowerMode | undefined;

  update(s: LiveSample | undefined): PowerMode | undefined {
    if (!s) return this.mode;
    this.mode = powerMode(s, this.mode);
    return this.mode;
  }

  current(): PowerMode | undefined {
    return this.mode;
  }
}

/** Battery, power, heat, memory: the sampler's changes become events (the MQTT events topic). */
export function forwardSamplerEvents(
  sampler: LiveSampler,
  events: EventLog,
  powerMode: PowerModeTracker,
): void {
  sampler.on('sample', (s) => powerMode.update(s));
  sampler.on('power-source', ({ sample, ...e }) =>
    events.emit('power-source', { ...e, mode: powerMode.current() }),
  );
  sampler.on('battery', ({ sample, ...e }) =>
    events.emit('battery', e, e.percent !== undefined && e.percent <= 10 ? 'warning' : 'info'),
  );
  sampler.on('throttling', ({ sample, ...e }) => events.emit('throttling', e, e.active ? 'warning' : 'info'));
  sampler.on('memory-pressure', ({ sample, ...e }) => events.emit('memory-pressure', e, 'warning'));
}
