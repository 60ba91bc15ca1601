import os from 'node:os';

/**
 * What telemetry reads from other parts. Each is optional: a figure whose source is absent on
 * this device (no battery, no power sensor) is simply left out of the record.
 */
export interface HardwareSample {
  /** Zone name → degrees Celsius. */
  temperaturesC?: Readonly<Record<string, number>>;
  throttled?: boolean;
  batteryPercent?: number;
  batteryCharging?: boolean;
  powerW?: number;
  /** Whole-device CPU use 0-100 when the hardware sampler measures it. */
  cpuPercent?: number;
}

export interface ActiveModel {
  model: string;
  variant: string;
  executionProvider?: string;
}

export interface TelemetrySources {
  active(): ActiveModel | undefined;
  /** The hardware profiler's live sampler (`LiveSampler.latest()`). */
  hardware?(): HardwareSample | undefined;
  cameraState?(): string | undefined;
  powerMode?(): string | undefined;
  outbox?(): { pending: number; droppedTotal: number };
  /** Flat fields of other parts (the battery plan: `batteryPredictedHours`, ...). */
  extra?(): Record<string, number | string | boolean>;
}

/** CPU time of the device and of this process, read between two calls. */
export interface CpuReader {
  /** Whole-device busy fraction since the last call (0-1), undefined on the first call. */
  device(): number | undefined;
  /** This process's CPU time in microseconds (user + system). */
  processMicros(): number;
  cores(): number;
  rssBytes(): number;
}

export function systemCpuReader(): CpuReader {
  let last: { idle: number; total: number } | undefined;
  return {
    device() {
      let idle = 0;
      let total = 0;
      for (const cpu of os.cpus()) {
        const t = cpu.times;
        idle += t.idle;
        total += t.user + t.nice + t.sys + t.idle + t.irq;
      }
      const prev = last;
      last = { idle, total };
      if (!prev || total <= prev.total) return undefined;
      return 1 - (idle - prev.idle) / (total - prev.total);
    },
    processMicros() {
      const u = process.cpuUsage();
      return u.user + u.system;
    },
    cores: () => os.availableParallelism(),
    rssBytes: () => process.memoryUsage.rss(),
  };
}
