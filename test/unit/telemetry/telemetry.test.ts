import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { silentLogger } from '../../../src/log.js';
import { Store } from '../../../src/store/index.js';
import { TelemetryCollector } from '../../../src/telemetry/collector.js';
import { LatencyWindow, percentile } from '../../../src/telemetry/percentiles.js';
import { telemetryRecordSchema, temperatureField } from '../../../src/telemetry/record.js';
import { TelemetryReporter } from '../../../src/telemetry/reporter.js';
import type { CpuReader, HardwareSample } from '../../../src/telemetry/sources.js';
import { FakeClock } from '../../helpers/fake-clock.js';

function fakeCpu(): CpuReader & { micros: number; busy: number | undefined } {
  const cpu = {
    micros: 0,
    busy: undefined as number | undefined,
    device: () => cpu.busy,
    processMicros: () => cpu.micros,
    cores: () => 4,
    rssBytes: () => 256 * 1024 * 1024,
  };
  return cpu;
}

describe('percentiles', () => {
  it('uses the nearest rank', () => {
    const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([
      percentile(sorted, 50),
      percentile(sorted, 95),
      percentile(sorted, 99),
      percentile(sorted, 100),
    ]).toEqual([50, 95, 99, 100]);
    expect(percentile([], 50)).toBeUndefined();
    expect(percentile([7], 99)).toBe(7);
  });

  it('keeps memory fixed past capacity and the percentiles within the sample range (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 3000 }),
        (values) => {
          const w = new LatencyWindow(256);
          for (const v of values) w.add(v);
          const s = w.summary()!;
          const min = Math.min(...values);
          const max = Math.max(...values);
          expect(s.count).toBe(values.length);
          expect(s.p50).toBeGreaterThanOrEqual(min);
          expect(s.p99).toBeLessThanOrEqual(max);
          expect(s.p50).toBeLessThanOrEqual(s.p95);
          expect(s.p95).toBeLessThanOrEqual(s.p99);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('TelemetryCollector', () => {
  it('builds one flat record with per-stage percentiles, fps, drops, CPU, hardware and model', async () => {
    const clock = new FakeClock();
    const cpu = fakeCpu();
    let hw: HardwareSample | undefined = {
      temperaturesC: { 'cpu-thermal': 61.25, GPU: 55 },
      throttled: false,
      batteryPercent: 80,
      batteryCharging: true,
      powerW: 6,
    };
    const collector = new TelemetryCollector({
      deviceId: 'pi-1',
      clock,
      cpu,
      sources: {
        active: () => ({ model: 'yolox-nano', variant: 'int8', executionProvider: 'cpu' }),
        hardware: () => hw,
        cameraState: () => 'streaming',
        powerMode: () => 'battery',
        outbox: () => ({ pending: 3, droppedTotal: 1 }),
      },
    });
    for (let seq = 0; seq < 20; seq++) {
      if (seq === 10) continue; // one frame skipped by the pipeline
      collector.observeFrame({ seq, timings: { preprocessMs: 2, inferenceMs: seq, postprocessMs: 1 } });
    }
    collector.observeFailure(20);
    cpu.micros = 2_000_000; // 2 CPU-seconds over 10 s on 4 cores = 5 %
    cpu.busy = 0.42;
    await clock.advance(10_000);
    const r = collector.snapshot();
    expect(telemetryRecordSchema.parse(r)).toEqual(r);
    expect(Object.values(r).every((v) => typeof v !== 'object')).toBe(true); // flat
    expect(r).toMatchObject({
      deviceId: 'pi-1',
      intervalS: 10,
      fps: 1.9,
      framesProcessed: 19,
      framesDropped: 1,
      framesFailed: 1,
      agentCpuPercent: 5,
      agentRssMB: 256,
      cpuPercent: 42,
      latencyPreprocessP50Ms: 2,
      latencyInferenceP50Ms: 9,
      latencyInferenceP99Ms: 19,
      latencyTotalP95Ms: 22, // nearest rank: ceil(0.95 * 19) = 19th of 19 values (3 + 19)
      temperatureCpuThermalC: 61.3,
      temperatureGpuC: 55,
      temperatureMaxC: 61.3,
      throttled: false,
      batteryPercent: 80,
      batteryCharging: true,
      powerW: 6,
      energyPerInferenceJ: 3.1579,
      model: 'yolox-nano',
      variant: 'int8',
      powerMode: 'battery',
      cameraState: 'streaming',
      outboxPending: 3,
      outboxDroppedTotal: 1,
    });
    // Next interval: counters reset; absent sources leave their fields out (never null).
    hw = undefined;
    await clock.advance(5000);
    const r2 = collector.snapshot();
    expect(r2).toMatchObject({ framesProcessed: 0, fps: 0, framesDropped: 0, framesDroppedTotal: 1 });
    for (const k of [
      'batteryPercent',
      'powerW',
      'energyPerInferenceJ',
      'latencyTotalP50Ms',
      'temperatureMaxC',
    ]) {
      expect(r2).not.toHaveProperty(k);
    }
  });

  it('names temperature fields from zone names', () => {
    expect(temperatureField('cpu-thermal')).toBe('temperatureCpuThermalC');
    expect(temperatureField('thermal_zone0')).toBe('temperatureThermalZone0C');
    expect(temperatureField('---')).toBe('temperatureZoneC');
  });
});

describe('TelemetryReporter', () => {
  it('stores and queues a record every interval, and takes a new interval at once', async () => {
    const clock = new FakeClock();
    const store = new Store({ file: ':memory:', config: parseConfig({}).store, clock, log: silentLogger() });
    const collector = new TelemetryCollector({
      deviceId: 'd',
      clock,
      cpu: fakeCpu(),
      sources: { active: () => undefined },
    });
    const reporter = new TelemetryReporter({
      collector,
      metrics: store.metrics,
      outbox: store.outbox,
      topic: 'edge-agent/d/telemetry',
      clock,
      log: silentLogger(),
      intervalS: 10,
    });
    const seen: number[] = [];
    reporter.onRecord((r) => seen.push(r.ts));
    reporter.start();
    await clock.advance(10_000);
    await clock.advance(10_000);
    expect(store.outbox.pending()).toBe(2);
    expect(store.metrics.counts().raw).toBe(2);
    reporter.setIntervalS(2);
    await clock.advance(0);
    await clock.advance(2000);
    expect(seen.length).toBe(3);
    expect(seen[2]! - seen[1]!).toBe(2000);
    const [first] = store.outbox.next(0, 1);
    expect(first!.topic).toBe('edge-agent/d/telemetry');
    expect(JSON.parse(first!.payload.toString())).toMatchObject({ deviceId: 'd', intervalS: 10 });
    expect(reporter.latest()?.ts).toBe(seen[2]);
    await reporter.stop();
    expect(() => reporter.setIntervalS(0)).toThrow(RangeError);
    await store.stop();
  });
});
