import { type Clock, isAbortError, systemClock } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { BandTracker, DebouncedFlag, DebouncedValue, ThresholdTracker } from './detectors.js';
import { type EnergyResult, integrateEnergy, RingBuffer } from './energy.js';
import { createHost, type Exec, type Host } from './host.js';
import { readBoard, readCpuinfo } from './readers/system.js';
import { type LiveSample, readSample, type SampleReading } from './sample.js';
import type { BoardFamily, PowerSource } from './schema.js';

export interface SamplerOptions {
  intervalMs: number;
  /** Samples kept for `history()` and `energyJ()`. */
  bufferSize: number;
  batteryThresholdsPercent: readonly number[];
  /** A `below` threshold is re-armed only at threshold + this. */
  batteryHysteresisPercent: number;
  /** A new power source must be seen this many samples in a row. */
  powerSourceConfirmSamples: number;
  throttleStartSamples: number;
  throttleStopSamples: number;
  /** Memory pressure starts below this % of the budget available, and ends above the exit level. */
  memoryPressureEnterPercent: number;
  memoryPressureExitPercent: number;
}

export const DEFAULT_SAMPLER_OPTIONS: SamplerOptions = {
  intervalMs: 5000,
  bufferSize: 120,
  batteryThresholdsPercent: [50, 20, 10],
  batteryHysteresisPercent: 3,
  powerSourceConfirmSamples: 2,
  throttleStartSamples: 2,
  throttleStopSamples: 3,
  memoryPressureEnterPercent: 10,
  memoryPressureExitPercent: 20,
};

export interface SamplerEvents {
  sample: LiveSample;
  'power-source': { from: PowerSource; to: PowerSource; sample: LiveSample };
  battery: { thresholdPercent: number; direction: 'below' | 'above'; percent: number; sample: LiveSample };
  throttling: { active: boolean; reasons: string[]; sample: LiveSample };
  'memory-pressure': {
    active: boolean;
    availableBytes?: number;
    availablePercent?: number;
    sample: LiveSample;
  };
}
export type SamplerEventName = keyof SamplerEvents;
type Listener<K extends SamplerEventName> = (event: SamplerEvents[K]) => void;

export interface LiveSamplerDeps {
  root?: string;
  exec?: Exec;
  clock?: Clock;
  log?: Logger;
  /** The board family when a profile was already read; otherwise the sampler reads it once. */
  family?: BoardFamily;
  options?: Partial<SamplerOptions>;
}

/**
 * Samples battery, power, temperatures, throttling, memory and CPU load every `intervalMs`, keeps
 * the last `bufferSize` samples and announces changes that matter, with hysteresis. A listener that
 * throws is logged and does not stop the others or the sampling.
 */
export class LiveSampler {
  readonly options: SamplerOptions;
  private readonly host: Host;
  private readonly clock: Clock;
  private readonly log: Logger | undefined;
  private readonly buffer: RingBuffer<SampleReading>;
  private readonly listeners = new Map<SamplerEventName, Set<(e: never) => void>>();
  private readonly powerSource: DebouncedValue<PowerSource>;
  private readonly battery: ThresholdTracker;
  private readonly throttling: DebouncedFlag;
  private readonly memory: BandTracker;
  private family: BoardFamily | undefined;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(deps: LiveSamplerDeps = {}) {
    this.options = { ...DEFAULT_SAMPLER_OPTIONS, ...deps.options };
    const o = this.options;
    if (!(o.intervalMs > 0)) throw new RangeError(`sampler intervalMs must be > 0, got ${o.intervalMs}`);
    this.host = createHost({ root: deps.root, exec: deps.exec });
    this.clock = deps.clock ?? systemClock;
    this.log = deps.log?.child({ component: 'hardware-sampler' });
    this.family = deps.family;
    this.buffer = new RingBuffer(o.bufferSize);
    this.powerSource = new DebouncedValue(o.powerSourceConfirmSamples);
    this.battery = new ThresholdTracker(o.batteryThresholdsPercent, o.batteryHysteresisPercent);
    this.throttling = new DebouncedFlag(o.throttleStartSamples, o.throttleStopSamples);
    this.memory = new BandTracker(o.memoryPressureEnterPercent, o.memoryPressureExitPercent);
  }

  on<K extends SamplerEventName>(event: K, listener: Listener<K>): () => void {
    const set = this.listeners.get(event) ?? new Set();
    this.listeners.set(event, set);
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  private emit<K extends SamplerEventName>(event: K, payload: SamplerEvents[K]): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        (l as Listener<K>)(payload);
      } catch (err) {
        this.log?.error({ event, err: errorMessage(err) }, 'sampler listener failed');
      }
    }
  }

  /** Takes one sample now, updates the buffer and emits events. `start` calls this every interval. */
  async sampleOnce(): Promise<LiveSample> {
    if (!this.family) {
      const ignore = () => {};
      this.family = (await readBoard(this.host, await readCpuinfo(this.host, ignore), ignore)).family;
    }
    const reading = await readSample(this.host, this.family, this.clock.now(), this.buffer.last());
    this.buffer.push(reading);
    const s = reading.sample;
    this.emit('sample', s);

    const source = this.powerSource.update(s.powerSource);
    if (source) this.emit('power-source', { ...source, sample: s });
    if (s.batteryPercent !== undefined) {
      for (const c of this.battery.update(s.batteryPercent))
        this.emit('battery', { ...c, percent: s.batteryPercent, sample: s });
    }
    const throttled = this.throttling.update(s.throttled);
    if (throttled !== undefined)
      this.emit('throttling', { active: throttled, reasons: s.throttleReasons, sample: s });
    if (s.availablePercent !== undefined) {
      const pressure = this.memory.update(s.availablePercent);
      if (pressure !== undefined) {
        this.emit('memory-pressure', {
          active: pressure,
          ...(s.availableBytes === undefined ? {} : { availableBytes: s.availableBytes }),
          availablePercent: s.availablePercent,
          sample: s,
        });
      }
    }
    return s;
  }

  /** The newest sample (what telemetry publishes), undefined before the first. */
  latest(): LiveSample | undefined {
    return this.buffer.last()?.sample;
  }

  history(): LiveSample[] {
    return this.buffer.toArray().map((r) => r.sample);
  }

  /** The debounced states, for consumers that start after the changes were announced. */
  state(): {
    powerSource?: PowerSource;
    throttled: boolean;
    memoryPressure: boolean;
    batteryBelowPercent?: number;
  } {
    const below = this.battery.lowestBelow();
    return {
      ...(this.powerSource.value ? { powerSource: this.powerSource.value } : {}),
      throttled: this.throttling.active,
      memoryPressure: this.memory.active,
      ...(below === undefined ? {} : { batteryBelowPercent: below }),
    };
  }

  /**
   * Energy used over the last `windowMs` (up to the newest sample): RAPL counter differences with
   * wrap-around where RAPL is the power sensor, else the integral of the power readings.
   */
  energyJ(windowMs: number): EnergyResult | undefined {
    const readings = this.buffer.toArray();
    const last = readings[readings.length - 1];
    if (!last) return undefined;
    const points = readings.map((r) => ({
      timeMs: r.sample.timeMs,
      ...(r.sample.powerW === undefined ? {} : { powerW: r.sample.powerW }),
      // The board's INA3221 total beats the CPU-only counters; otherwise counters are exact.
      ...(r.rapl && r.sample.powerSensor !== 'ina3221' ? { rapl: r.rapl } : {}),
    }));
    return integrateEnergy(points, last.sample.timeMs - windowMs);
  }

  /** Samples every interval until `signal` aborts or `stop()` is called. Resolves once running. */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.loop) return;
    const abort = new AbortController();
    this.abort = abort;
    signal?.addEventListener('abort', () => abort.abort(), { once: true });
    this.loop = this.run(abort.signal);
  }

  private async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const started = this.clock.now();
      try {
        await this.sampleOnce();
      } catch (err) {
        // Readers do not throw for absent hardware; this is a bug or an I/O fault: keep sampling.
        this.log?.error({ err: errorMessage(err) }, 'hardware sample failed');
      }
      try {
        await this.clock.sleep(Math.max(0, this.options.intervalMs - (this.clock.now() - started)), signal);
      } catch (err) {
        if (isAbortError(err)) return;
        throw err;
      }
    }
  }

  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }
}
