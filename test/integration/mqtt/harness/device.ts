/**
 * A small device process built from the real modules (store, telemetry, fleet) without the camera
 * and model, so MQTT tests can SIGKILL it, restart it and run several at once cheaply.
 * Configured by the HARNESS environment variable (JSON, see HarnessOptions). SIGUSR2 stops
 * producing telemetry (the link stays up to drain the outbox); SIGTERM stops cleanly.
 */
import { systemClock } from '../../../../src/clock.js';
import { parseConfig } from '../../../../src/config/index.js';
import { configFeature } from '../../../../src/features/config.js';
import { deviceFeature } from '../../../../src/features/device.js';
import { commandTable } from '../../../../src/features/feature.js';
import { modelsFeature } from '../../../../src/features/models.js';
import { pacingFeature } from '../../../../src/features/pacing.js';
import { FleetService } from '../../../../src/fleet/service.js';
import { deviceTopics } from '../../../../src/fleet/topics.js';
import { createLogger } from '../../../../src/log.js';
import { Store } from '../../../../src/store/index.js';
import { TelemetryCollector } from '../../../../src/telemetry/collector.js';
import { TelemetryReporter } from '../../../../src/telemetry/reporter.js';
import { systemCpuReader } from '../../../../src/telemetry/sources.js';

export interface HarnessOptions {
  db: string;
  deviceId: string;
  /** The `mqtt` config section (url, prefix, groups, reconnect, tls, ...). */
  mqtt: Record<string, unknown>;
  intervalS: number;
  produce: boolean;
}

const options = JSON.parse(process.env.HARNESS ?? '{}') as HarnessOptions;
const log = createLogger({ level: (process.env.HARNESS_LOG as 'info') ?? 'warn', fd: 2 });
const config = parseConfig({
  deviceId: options.deviceId,
  mqtt: options.mqtt,
  telemetry: { intervalS: options.intervalS },
});
const store = new Store({
  file: options.db,
  config: config.store,
  clock: systemClock,
  log,
  eventsTopic: deviceTopics(config.mqtt.prefix, options.deviceId).events,
});
const say = (msg: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(msg)}\n`);

let variant = 'fp32';
let fps = 2;
const model = (v: string) => ({ model: 'harness-model', variant: v });
const commands = commandTable([
  deviceFeature({
    status: () => ({ fps, variant, fleet: fleet.status() }),
    restart: () => {
      say({ restarting: true });
      void shutdown(75);
    },
  }),
  configFeature({
    store: {
      effective: () => config,
      set: async () => {
        throw new Error('set-config is not wired in the harness');
      },
    },
  }),
  modelsFeature({
    models: {
      catalog: {
        models: () => [
          {
            manifest: { name: 'harness-model' },
            variants: [{ id: 'fp32' }, { id: 'int8' }],
          },
        ],
      } as never,
      active: () => model(variant),
      switchTo: async (target) => {
        if (target.variant !== 'fp32' && target.variant !== 'int8')
          throw new Error(`no variant ${target.variant}`);
        const previous = model(variant);
        variant = target.variant;
        say({ changed: 'variant', variant });
        return { changed: true, from: previous, to: model(variant) };
      },
    },
    decision: () => ({}),
  }),
  pacingFeature({
    config: config.pipeline,
    pipeline: {
      setPacing: (p) => {
        fps = p.mode === 'continuous' ? (p.fps ?? 0) : 0;
        say({ changed: 'fps', fps });
      },
      stats: () => ({ pacing: { fps } }),
    },
  }),
]);

const fleet = new FleetService({
  config: config.mqtt,
  deviceId: options.deviceId,
  version: 'harness',
  clock: systemClock,
  log,
  outbox: store.outbox,
  audit: store.audit,
  events: store.events,
  commands,
  info: () => ({
    deviceId: options.deviceId,
    version: 'harness',
    model: 'harness-model',
    variant,
    groups: config.mqtt.groups,
  }),
});

const collector = new TelemetryCollector({
  deviceId: options.deviceId,
  clock: systemClock,
  cpu: systemCpuReader(),
  sources: {
    active: () => ({ model: 'harness-model', variant }),
    outbox: () => ({ pending: store.outbox.pending(), droppedTotal: store.outbox.stats().droppedTotal }),
  },
});
const reporter = new TelemetryReporter({
  collector,
  metrics: store.metrics,
  outbox: store.outbox,
  topic: fleet.topics.telemetry,
  clock: systemClock,
  log,
  intervalS: options.intervalS,
});

let stopping: Promise<void> | undefined;
function shutdown(code: number): Promise<void> {
  stopping ??= (async () => {
    await reporter.stop();
    await fleet.stop();
    await store.stop();
    process.exit(code);
  })();
  return stopping;
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGUSR2', () => {
  void reporter.stop().then(() => say({ produced: 'stopped', pending: store.outbox.pending() }));
});

await fleet.start();
if (options.produce) reporter.start();
say({ ready: true, pid: process.pid, broker: fleet.brokerUrl });
setInterval(() => say({ status: fleet.status().link }), 1000).unref();
