import type { Registry } from 'prom-client';
import type { CameraState } from '../camera/types.js';
import type { FrameResult, PipelineStats } from '../pipeline/pipeline.js';
import type { TelemetryRecord } from '../telemetry/record.js';
import type { BatteryPlanReading } from '../tuner/battery/agent-battery.js';
import { LabelledHistogram } from './stage-histogram.js';

/** Live device readings the telemetry part provides (all optional: not every board has sensors). */
export interface DeviceReadings {
  /** By thermal zone name. */
  temperaturesC?: Record<string, number>;
  batteryPercent?: number;
  onBattery?: boolean;
  /** Total power draw where a sensor exists (INA3221, RAPL, battery discharge). */
  powerW?: number;
  /** The battery plan in force (docs/battery.md): predicted life, planned and measured drain. */
  batteryPlan?: BatteryPlanReading;
}

export interface MetricsSources {
  stats: () => PipelineStats;
  readings?: () => Promise<DeviceReadings | undefined>;
  /** The latest telemetry record: the figures only it has (device CPU, energy, outbox, power mode). */
  telemetry?: () => TelemetryRecord | undefined;
}

const GAUGES_NAMED_TOTAL = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];
const STATES: readonly CameraState[] = ['stopped', 'starting', 'online', 'stalled', 'offline'];
const STAGES = ['captureAgeMs', 'preprocessMs', 'inferenceMs', 'postprocessMs', 'totalMs'] as const;
const STAGE_LABEL: Record<(typeof STAGES)[number], string> = {
  captureAgeMs: 'capture_age',
  preprocessMs: 'preprocess',
  inferenceMs: 'inference',
  postprocessMs: 'postprocess',
  totalMs: 'total',
};

/** prom-client's `Registry.contentType` for the text format, known before prom-client is loaded. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The Prometheus metrics of one agent (a registry of its own, never the global one): stage latency
 * histograms fed by every result, and gauges/counters read from the pipeline and the device at
 * scrape time. prom-client and its default process metrics load on the first scrape.
 */
export class AgentMetrics {
  private readonly latency = new LabelledHistogram(
    'edge_agent_frame_stage_seconds',
    'Per-frame time by pipeline stage (capture_age = frame age when inference started)',
    'stage',
    [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5],
  );
  private registryNow: Promise<Registry> | undefined;

  constructor(private readonly sources: MetricsSources) {}

  /** Feeds the stage histograms; called for every result. */
  observe(result: FrameResult): void {
    for (const stage of STAGES) this.latency.observe(STAGE_LABEL[stage], result.timings[stage] / 1000);
  }

  async text(): Promise<string> {
    this.registryNow ??= this.createRegistry();
    const registry = await this.registryNow;
    return `${await registry.metrics()}\n${this.latency.text()}`.replace(/\n\n+/g, '\n');
  }

  get contentType(): string {
    return PROMETHEUS_CONTENT_TYPE;
  }

  private async createRegistry(): Promise<Registry> {
    const { Counter, collectDefaultMetrics, Gauge, Registry } = await import('prom-client');
    const { telemetryMetrics } = await import('./metrics-telemetry.js');
    const sources = this.sources;
    const registry = new Registry();
    const registers = [registry];
    collectDefaultMetrics({ register: registry });
    // prom-client's gauges named *_total break the naming rules (promtool); the same figures stay
    // available by type as nodejs_active_handles / _requests / _resources.
    for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(name);
    new Counter({
      name: 'edge_agent_frames_total',
      help: 'Frames by outcome: captured, processed, dropped (inference busy), skipped (pacing), stale, failed',
      labelNames: ['outcome'],
      registers,
      collect() {
        const c = sources.stats().counters;
        this.reset();
        for (const [outcome, value] of Object.entries(c)) this.inc({ outcome }, value);
      },
    });
    new Gauge({
      name: 'edge_agent_inference_fps',
      help: 'Inferences per second over the last 5 s',
      registers,
      collect() {
        this.set(sources.stats().fps);
      },
    });
    new Gauge({
      name: 'edge_agent_capture_fps',
      help: 'Frames per second delivered by the camera over the last 5 s',
      registers,
      collect() {
        this.set(sources.stats().captureFps);
      },
    });
    new Gauge({
      name: 'edge_agent_camera_state',
      help: 'Camera state (1 for the current one)',
      labelNames: ['state'],
      registers,
      collect() {
        const state = sources.stats().camera.state;
        for (const s of STATES) this.set({ state: s }, s === state ? 1 : 0);
      },
    });
    new Counter({
      name: 'edge_agent_camera_reconnects_total',
      help: 'Capture process restarts',
      registers,
      collect() {
        this.reset();
        this.inc(sources.stats().camera.reconnects);
      },
    });
    new Counter({
      name: 'edge_agent_pipeline_restarts_total',
      help: 'Times the pipeline was restarted in a new worker after a failure',
      registers,
      collect() {
        this.reset();
        this.inc(sources.stats().restarts?.count ?? 0);
      },
    });
    new Counter({
      name: 'edge_agent_camera_stalls_total',
      help: 'Times the camera delivered no frame within the stall timeout',
      registers,
      collect() {
        this.reset();
        this.inc(sources.stats().camera.stalls);
      },
    });
    new Gauge({
      name: 'edge_agent_model_info',
      help: 'The active model and variant (value 1)',
      labelNames: ['model', 'variant', 'execution_provider'],
      registers,
      collect() {
        const m = sources.stats().model;
        this.reset();
        this.set(
          { model: m.name, variant: m.variant, execution_provider: m.executionProvider ?? 'unknown' },
          1,
        );
      },
    });
    deviceGauges(Gauge, sources, registers);
    if (sources.telemetry) telemetryMetrics(sources.telemetry, registers);
    return registry;
  }
}

// Device gauges carry a label so that, without a reading, they stay empty instead of showing 0.
function deviceGauges(
  Gauge: typeof import('prom-client').Gauge,
  sources: MetricsSources,
  registers: Registry[],
): void {
  if (!sources.readings) return;
  const readings = cachedFor(sources.readings, 1000);
  new Gauge({
    name: 'edge_agent_temperature_celsius',
    help: 'Temperatures by thermal zone',
    labelNames: ['zone'],
    registers,
    async collect() {
      const r = await readings();
      this.reset();
      for (const [zone, c] of Object.entries(r?.temperaturesC ?? {})) this.set({ zone }, c);
    },
  });
  new Gauge({
    name: 'edge_agent_battery_ratio',
    help: 'Battery charge, 0 to 1 (absent without a battery)',
    labelNames: ['source'],
    registers,
    async collect() {
      const r = await readings();
      this.reset();
      if (r?.batteryPercent !== undefined) this.set({ source: 'battery' }, r.batteryPercent / 100);
    },
  });
  new Gauge({
    name: 'edge_agent_on_battery',
    help: '1 when running on battery',
    labelNames: ['source'],
    registers,
    async collect() {
      const r = await readings();
      this.reset();
      if (r?.onBattery !== undefined) this.set({ source: 'power_supply' }, r.onBattery ? 1 : 0);
    },
  });
  new Gauge({
    name: 'edge_agent_power_watts',
    help: 'Power draw where a sensor exists (INA3221, RAPL, battery)',
    labelNames: ['source'],
    registers,
    async collect() {
      const r = await readings();
      this.reset();
      if (r?.powerW !== undefined) this.set({ source: 'total' }, r.powerW);
    },
  });
}

/** Calls `fn` at most once per `ms` (one scrape reads the device once for all gauges). */
function cachedFor<T>(fn: () => Promise<T>, ms: number): () => Promise<T> {
  let at = Number.NEGATIVE_INFINITY;
  let value: Promise<T> | undefined;
  return () => {
    const now = performance.now();
    if (!value || now - at > ms) {
      at = now;
      value = fn();
    }
    return value;
  };
}
