import type { LiveSample } from '../../hardware/sample.js';
import type { PipelineStats } from '../../pipeline/types.js';
import type { MeasuredPower } from './energy.js';
import {
  type CameraPhase,
  DEFAULT_FIT,
  deviceWatts,
  type FitOptions,
  fitLivePower,
  type LivePower,
  measuredPowerOf,
  type PowerObservation,
} from './live-power.js';

export interface LivePowerMonitorDeps {
  /** The hardware sampler: one observation per sample. */
  sampler: { on(event: 'sample', listener: (s: LiveSample) => void): () => void };
  pipeline: { stats(): Pick<PipelineStats, 'camera' | 'counters' | 'pacing'> };
  /** The candidate running now (its label): J per inference is per candidate. */
  candidate: () => string;
  /** Observations kept (default 2 h at the 5 s sampler interval). */
  maxObservations?: number;
  fit?: Partial<FitOptions>;
}

const phase = (state: string): CameraPhase =>
  state === 'online' ? 'on' : state === 'stopped' ? 'off' : 'other';

/**
 * Collects what the battery planner measures in the running agent (live-power.ts): at every
 * hardware sample, the whole-device and RAPL draw next to the camera's state, the inference counter,
 * the pacing and the candidate. `start(signal)` subscribes, `stop()` unsubscribes.
 */
export class LivePowerMonitor {
  private obs: PowerObservation[] = [];
  private off: (() => void) | undefined;
  private readonly max: number;
  private readonly fit: FitOptions;
  private readonly known = new Map<string, Omit<MeasuredPower, 'idleW'>>();
  private idleW: number | undefined;

  constructor(private readonly deps: LivePowerMonitorDeps) {
    this.max = deps.maxObservations ?? 1440;
    this.fit = { ...DEFAULT_FIT, ...deps.fit };
  }

  start(signal?: AbortSignal): void {
    if (this.off) return;
    this.off = this.deps.sampler.on('sample', (s) => this.record(s));
    signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  stop(): void {
    this.off?.();
    this.off = undefined;
  }

  record(s: LiveSample): void {
    const stats = this.deps.pipeline.stats();
    const device = deviceWatts(s);
    this.obs.push({
      timeMs: s.timeMs,
      ...(device ? { deviceW: device.watts, deviceSensor: device.sensor } : {}),
      ...(s.powerSensor === 'rapl' && s.powerW !== undefined ? { cpuW: s.powerW } : {}),
      camera: phase(stats.camera.state),
      cameraSinceMs: stats.camera.sinceMs,
      processed: stats.counters.processed,
      pacing: stats.pacing.description,
      candidate: this.deps.candidate(),
    });
    if (this.obs.length > this.max) this.obs.splice(0, this.obs.length - this.max);
  }

  /** The live figures for the candidate running now. */
  live(): LivePower {
    return fitLivePower(this.obs, this.deps.candidate(), this.fit);
  }

  /**
   * What the planner uses: the newest figures, and those measured before that the kept window no
   * longer shows (two hours of one rate forget the idle gaps and the other rate): a measured figure
   * stays measured (J, camera, duty frame per candidate; idle for all).
   */
  measured(): MeasuredPower {
    const candidate = this.deps.candidate();
    const { idleW, ...fresh } = measuredPowerOf(this.live());
    if (idleW !== undefined) this.idleW = idleW;
    const merged = { ...this.known.get(candidate), ...fresh };
    this.known.set(candidate, merged);
    return { ...(this.idleW !== undefined ? { idleW: this.idleW } : {}), ...merged };
  }
}
