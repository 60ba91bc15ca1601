import { Counter, Gauge, type Registry } from 'prom-client';
import type { TelemetryRecord } from '../telemetry/record.js';

type Read = () => number | undefined;

/**
 * A gauge whose sample is left out (not shown as 0) while its reading is unknown: a box without a
 * battery or power sensor has no such series at all, which is what Prometheus queries expect.
 */
class OptionalGauge extends Gauge {
  constructor(name: string, help: string, registers: Registry[], read: Read) {
    super({
      name,
      help,
      registers,
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
    const base = this.get.bind(this);
    this.get = async () => {
      const metric = await base();
      return read() === undefined ? { ...metric, values: [] } : metric;
    };
  }
}

const finite = (v: unknown): number | undefined =>
  typeof v === 'number' && Number.isFinite(v) ? v : undefined;
const bool = (v: unknown): number | undefined => (typeof v === 'boolean' ? Number(v) : undefined);

/**
 * The figures that only the telemetry record has, in base units. Everything else in the record
 * (fps, latency percentiles, RSS, temperatures, battery, power) is already on /metrics from its
 * source — stage histograms, process metrics, device gauges — and is not repeated.
 */
export function telemetryMetrics(latest: () => TelemetryRecord | undefined, registers: Registry[]): void {
  const field = (pick: (r: TelemetryRecord) => number | undefined): Read => {
    return () => {
      const r = latest();
      return r ? pick(r) : undefined;
    };
  };
  new OptionalGauge(
    'edge_agent_device_cpu_ratio',
    'Whole-device CPU use over the last telemetry interval, 0 to 1 over all cores',
    registers,
    field((r) => {
      const p = finite(r.cpuPercent);
      return p === undefined ? undefined : p / 100;
    }),
  );
  new OptionalGauge(
    'edge_agent_throttled',
    '1 while the board is thermally or under-voltage throttled (absent where the board does not tell)',
    registers,
    field((r) => bool(r.throttled)),
  );
  new OptionalGauge(
    'edge_agent_battery_charging',
    '1 while the battery charges (absent without a battery)',
    registers,
    field((r) => bool(r.batteryCharging)),
  );
  new OptionalGauge(
    'edge_agent_energy_per_inference_joules',
    'Device power draw divided by the inference rate over the last telemetry interval (absent without a power sensor)',
    registers,
    field((r) => finite(r.energyPerInferenceJ)),
  );
  new OptionalGauge(
    'edge_agent_outbox_pending_messages',
    'Telemetry and event messages waiting in the SQLite outbox for a broker acknowledgement',
    registers,
    field((r) => finite(r.outboxPending)),
  );
  new Counter({
    name: 'edge_agent_outbox_dropped_messages_total',
    help: 'Outbox messages dropped since the database was created (outbox full or expired)',
    registers,
    collect() {
      const dropped = finite(latest()?.outboxDroppedTotal);
      this.reset();
      if (dropped !== undefined) this.inc(dropped);
    },
  });
  new Gauge({
    name: 'edge_agent_power_mode',
    help: 'The power mode that selects the tuning constraints (1 for the current one)',
    labelNames: ['mode'],
    registers,
    collect() {
      const mode = latest()?.powerMode;
      this.reset();
      if (typeof mode === 'string') this.set({ mode }, 1);
    },
  });
}
