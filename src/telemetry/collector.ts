import type { Clock } from '../clock.js';
import { LatencyWindow } from './percentiles.js';
import { latencyField, type TelemetryRecord, temperatureField } from './record.js';
import type { CpuReader, TelemetrySources } from './sources.js';

export interface FrameObservation {
  seq: number;
  /** Stage timings in ms, keys ending in `Ms` (`preprocessMs`, `inferenceMs`, `postprocessMs`). */
  timings: Readonly<Record<string, number>>;
}

export interface CollectorDeps {
  deviceId: string;
  clock: Clock;
  sources: TelemetrySources;
  cpu: CpuReader;
  /** Samples kept per stage per interval (reservoir), bounding memory. */
  windowCapacity?: number;
  random?: () => number;
}

const round = (v: number, digits = 3) => Math.round(v * 10 ** digits) / 10 ** digits;

/**
 * Accumulates per-frame figures between two snapshots and turns them, with the hardware and model
 * sources, into one flat telemetry record. Snapshots reset the interval.
 */
export class TelemetryCollector {
  private readonly windows = new Map<string, LatencyWindow>();
  private readonly startedAt: number;
  private intervalStart: number;
  private lastProcessMicros: number;
  private processed = 0;
  private failed = 0;
  private dropped = 0;
  private droppedTotal = 0;
  private lastSeq: number | undefined;

  constructor(private readonly deps: CollectorDeps) {
    this.startedAt = deps.clock.now();
    this.intervalStart = this.startedAt;
    this.lastProcessMicros = deps.cpu.processMicros();
    deps.cpu.device();
  }

  /** One inferred frame. A gap in `seq` counts the skipped frames as dropped. */
  observeFrame(frame: FrameObservation): void {
    this.processed++;
    if (this.lastSeq !== undefined && frame.seq > this.lastSeq + 1)
      this.observeDropped(frame.seq - this.lastSeq - 1);
    // A source restart begins at 0 again: not a drop.
    this.lastSeq = frame.seq;
    let total = 0;
    for (const [key, ms] of Object.entries(frame.timings)) {
      if (!key.endsWith('Ms') || !Number.isFinite(ms)) continue;
      this.window(key.slice(0, -2)).add(ms);
      total += ms;
    }
    this.window('total').add(total);
  }

  /** A frame that failed inference. */
  observeFailure(seq?: number): void {
    this.failed++;
    if (seq !== undefined) this.lastSeq = seq;
  }

  observeDropped(count: number): void {
    if (count <= 0) return;
    this.dropped += count;
    this.droppedTotal += count;
  }

  private window(stage: string): LatencyWindow {
    let w = this.windows.get(stage);
    if (!w) {
      w = new LatencyWindow(this.deps.windowCapacity, { keep: 'reservoir', random: this.deps.random });
      this.windows.set(stage, w);
    }
    return w;
  }

  /** The record for the interval since the previous snapshot, then starts a new interval. */
  snapshot(): TelemetryRecord {
    const { clock, cpu, sources, deviceId } = this.deps;
    const now = clock.now();
    const elapsedS = Math.max(1e-3, (now - this.intervalStart) / 1000);
    const processMicros = cpu.processMicros();
    const agentCpu = ((processMicros - this.lastProcessMicros) / 1e6 / (elapsedS * cpu.cores())) * 100;
    const fps = this.processed / elapsedS;

    const record: TelemetryRecord = {
      ts: now,
      deviceId,
      intervalS: round(elapsedS),
      uptimeS: Math.round((now - this.startedAt) / 1000),
      fps: round(fps),
      framesProcessed: this.processed,
      framesDropped: this.dropped,
      framesDroppedTotal: this.droppedTotal,
      framesFailed: this.failed,
      agentCpuPercent: round(Math.max(0, agentCpu), 1),
      agentRssMB: round(cpu.rssBytes() / 1024 / 1024, 1),
    };
    for (const [stage, window] of this.windows) {
      const s = window.summary();
      if (!s) continue;
      record[latencyField(stage, 50)] = round(s.p50);
      record[latencyField(stage, 95)] = round(s.p95);
      record[latencyField(stage, 99)] = round(s.p99);
    }

    const hw = sources.hardware?.();
    const deviceBusy = cpu.device();
    const cpuPercent = hw?.cpuPercent ?? (deviceBusy === undefined ? undefined : deviceBusy * 100);
    if (cpuPercent !== undefined) record.cpuPercent = round(cpuPercent, 1);
    if (hw?.temperaturesC) {
      const temps = Object.entries(hw.temperaturesC).filter(([, c]) => Number.isFinite(c));
      for (const [zone, c] of temps) record[temperatureField(zone)] = round(c, 1);
      if (temps.length > 0) record.temperatureMaxC = round(Math.max(...temps.map(([, c]) => c)), 1);
    }
    if (hw?.throttled !== undefined) record.throttled = hw.throttled;
    if (hw?.batteryPercent !== undefined) record.batteryPercent = round(hw.batteryPercent, 1);
    if (hw?.batteryCharging !== undefined) record.batteryCharging = hw.batteryCharging;
    if (hw?.powerW !== undefined) {
      record.powerW = round(hw.powerW);
      if (fps > 0) record.energyPerInferenceJ = round(hw.powerW / fps, 4);
    }

    const active = sources.active();
    if (active) {
      record.model = active.model;
      record.variant = active.variant;
      if (active.executionProvider) record.executionProvider = active.executionProvider;
    }
    const powerMode = sources.powerMode?.();
    if (powerMode) record.powerMode = powerMode;
    const camera = sources.cameraState?.();
    if (camera) record.cameraState = camera;
    const outbox = sources.outbox?.();
    if (outbox) {
      record.outboxPending = outbox.pending;
      record.outboxDroppedTotal = outbox.droppedTotal;
    }
    Object.assign(record, sources.extra?.() ?? {});

    this.intervalStart = now;
    this.lastProcessMicros = processMicros;
    this.processed = 0;
    this.failed = 0;
    this.dropped = 0;
    for (const w of this.windows.values()) w.reset();
    return record;
  }
}
