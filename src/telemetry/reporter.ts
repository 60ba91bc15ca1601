import { type Clock, isAbortError } from '../clock.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { MetricsStore } from '../store/metrics.js';
import type { Outbox } from '../store/outbox.js';
import type { TelemetryCollector } from './collector.js';
import type { TelemetryRecord } from './record.js';

export interface ReporterDeps {
  collector: Pick<TelemetryCollector, 'snapshot'>;
  metrics: Pick<MetricsStore, 'record'>;
  outbox: Pick<Outbox, 'enqueue'>;
  /** The device's `telemetry` topic. */
  topic: string;
  clock: Clock;
  log: Logger;
  intervalS: number;
}

/**
 * Every `intervalS`: takes a snapshot, stores it in the metrics history and queues it in the
 * outbox (the publisher sends it when the broker is reachable). It never publishes directly.
 */
export class TelemetryReporter {
  private last: TelemetryRecord | undefined;
  private intervalS: number;
  private readonly abort = new AbortController();
  private wake: AbortController | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Set<(r: TelemetryRecord) => void>();

  constructor(private readonly deps: ReporterDeps) {
    this.intervalS = deps.intervalS;
  }

  get interval(): number {
    return this.intervalS;
  }

  /** The most recent record (also what /metrics shows). */
  latest(): TelemetryRecord | undefined {
    return this.last;
  }

  /** Applies a new interval at once (the current wait is cut short). */
  setIntervalS(seconds: number): void {
    if (!(seconds > 0)) throw new RangeError(`telemetry interval must be > 0 s, got ${seconds}`);
    this.intervalS = seconds;
    this.wake?.abort();
  }

  onRecord(listener: (r: TelemetryRecord) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Takes, stores and queues one record. */
  tick(): TelemetryRecord {
    const record = this.deps.collector.snapshot();
    this.last = record;
    const payload = JSON.stringify(record);
    this.deps.metrics.record(record.ts, record);
    this.deps.outbox.enqueue({ kind: 'telemetry', topic: this.deps.topic, payload });
    for (const listener of this.listeners) {
      try {
        listener(record);
      } catch (err) {
        this.deps.log.error({ err: errorMessage(err) }, 'telemetry listener failed');
      }
    }
    return record;
  }

  start(signal?: AbortSignal): void {
    signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    const { clock, log } = this.deps;
    let due = clock.now() + this.intervalS * 1000;
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        this.wake = new AbortController();
        const waitSignal = AbortSignal.any([this.abort.signal, this.wake.signal]);
        try {
          await clock.sleep(Math.max(0, due - clock.now()), waitSignal);
        } catch (err) {
          if (!isAbortError(err)) throw err;
          if (this.abort.signal.aborted) return;
          // The interval changed: the next record is due one new interval after the last one.
          due = (this.last?.ts ?? clock.now()) + this.intervalS * 1000;
          continue;
        }
        try {
          this.tick();
        } catch (err) {
          log.error({ err: errorMessage(err) }, 'telemetry sample failed');
        }
        // Fixed-rate schedule: no drift, and never a burst of catch-up samples after a stall.
        due = Math.max(due + this.intervalS * 1000, clock.now());
      }
    })();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
