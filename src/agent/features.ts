import type { Clock } from '../clock.js';
import { type AgentConfig, ENV_OVERRIDES, loadConfig } from '../config/index.js';
import { ConfigStore, removeStaleTemps } from '../config/store.js';
import { errorMessage } from '../errors.js';
import { batteryFeature } from '../features/battery.js';
import { configFeature } from '../features/config.js';
import { controlsFeature } from '../features/controls.js';
import { agentDerivation, deriveFeature } from '../features/derive.js';
import { deviceFeature, deviceStatus } from '../features/device.js';
import { type Feature, liveKeys } from '../features/feature.js';
import { homeAssistantFeature } from '../features/home-assistant.js';
import { inferFeature } from '../features/infer.js';
import { modelsFeature } from '../features/models.js';
import { pacingFeature } from '../features/pacing.js';
import { reportingFeature } from '../features/reporting.js';
import { PipelineCamera, snapshotFeature } from '../features/snapshot.js';
import { tunerFeature } from '../features/tuner.js';
import type { FleetExtension, FleetService } from '../fleet/service.js';
import type { DeviceProfile } from '../hardware/index.js';
import type { HealthFaults } from '../health/faults.js';
import type { Logger } from '../log.js';
import type { RunningPipeline } from '../pipeline/types.js';
import type { Store } from '../store/index.js';
import type { TelemetryReporter } from '../telemetry/reporter.js';
import type { BatteryReplanner } from '../tuner/battery/replanner.js';
import type { TunerController } from '../tuner/controller.js';
import { Controls, type ControlsDeps } from './controls.js';
import { agentDeployFeature } from './deploy.js';
import type { ModelHost } from './model-host.js';

/** The built parts of the running agent the features are made from. */
export interface AgentParts {
  config: AgentConfig;
  /** The file set-config reads and writes, and the environment whose overrides apply on top. */
  configFile: { file: string | undefined; env: Readonly<Record<string, string | undefined>> };
  deviceId: string;
  version: string;
  startedAtMs: number;
  clock: Clock;
  log: Logger;
  /** Aborted when the agent stops. */
  signal: AbortSignal;
  models: ModelHost;
  pipeline: RunningPipeline;
  store: Store;
  telemetry: TelemetryReporter;
  /** Why the active variant is active (GET /api/decision). */
  decision(): unknown;
  profile(): Promise<unknown>;
  restart(reason: string): void;
  /**
   * The MQTT side. It is built after the features because it serves their commands, so it is
   * reached through this function (undefined while MQTT is off).
   */
  fleet(): FleetService | undefined;
  /** The auto-tuner (absent: no tune / set-policy commands). */
  tuner?: TunerController | undefined;
  /** The battery planner (absent unless policy.batteryHours is set). */
  battery?: BatteryReplanner | undefined;
  /** What is degraded: get-status carries it (as /healthz does). */
  faults?: Pick<HealthFaults, 'list'> | undefined;
}

/** Every feature of the agent, and the config store that applies their live keys. */
export function agentFeatures(parts: AgentParts): {
  features: Feature[];
  configStore: ConfigStore;
  /** Parts riding on the MQTT link (Home Assistant), for the FleetService. */
  extensions: FleetExtension[];
  /** The `update` block of the retained info (the latest model deployment). */
  update(): unknown;
} {
  const { store, pipeline, models } = parts;
  const infoChanged = async () => parts.fleet()?.publishInfo();
  const variants = () => activeVariants(models);
  const controls = new Controls({
    pipeline: () => pipeline,
    config: parts.config.pipeline,
    variants,
    setVariant: async (variant) => {
      const { changed, from, to } = await models.switchTo({ variant });
      if (changed) {
        store.events.emit('model-switched', { from, to });
        await infoChanged();
      }
    },
    restart: parts.restart,
    ...(parts.tuner ? tunerControls(parts.tuner, parts.config.policy.objective, parts.log) : {}),
  });
  const deploy = agentDeployFeature(parts, infoChanged, () => configStore);
  const features: Feature[] = [
    deviceFeature({
      status: () =>
        deviceStatus({
          deviceId: parts.deviceId,
          version: parts.version,
          startedAtMs: parts.startedAtMs,
          clock: parts.clock,
          active: () => models.active(),
          pipeline,
          telemetry: parts.telemetry,
          outbox: store.outbox,
          mqtt: () => parts.fleet()?.status(),
          ...(parts.faults ? { faults: () => parts.faults!.list() } : {}),
        }),
      profile: parts.profile,
      restart: parts.restart,
    }),
    modelsFeature({
      models,
      decision: parts.decision,
      results: pipeline,
      events: store.events,
      infoChanged,
      deployed: () => deploy.deployed(),
    }),
    deriveFeature({
      derive: agentDerivation({
        config: parts.config,
        models,
        results: pipeline,
        clock: parts.clock,
        log: parts.log,
        signal: parts.signal,
        events: store.events,
        infoChanged,
        ...(parts.tuner ? { derived: retuneAfterDerivation(parts.tuner, parts.log) } : {}),
      }),
    }),
    snapshotFeature({ camera: new PipelineCamera({ pipeline, clock: parts.clock }) }),
    pacingFeature({ pipeline, config: parts.config.pipeline }),
    reportingFeature({
      setTelemetryIntervalS: (s) => parts.telemetry.setIntervalS(s),
      setResultsPolicy: (p) => parts.fleet()?.configureResults(p),
    }),
    inferFeature({
      pipeline,
      maxBytes: parts.config.http.inferMaxBytes,
      imageLimits: { maxPixels: parts.config.inference.maxInputPixels },
      concurrency: parts.config.http.inferConcurrency,
    }),
    controlsFeature({ controls }),
    ...(parts.tuner ? [tunerFeature({ controller: parts.tuner })] : []),
    ...(parts.battery ? [batteryFeature({ replanner: parts.battery })] : []),
    deploy,
  ];
  const extensions: FleetExtension[] = [];
  if (parts.config.mqtt.homeAssistant.enabled) {
    const homeAssistant = homeAssistantFeature({
      config: parts.config,
      deviceId: parts.deviceId,
      version: parts.version,
      clock: parts.clock,
      log: parts.log,
      controls,
      variants,
      results: pipeline,
      profile: parts.profile as () => Promise<DeviceProfile>,
      hasCommand: (name) => features.some((f) => f.commands !== undefined && Object.hasOwn(f.commands, name)),
    });
    features.push(homeAssistant);
    extensions.push(homeAssistant.mqtt);
  }
  const { file, env } = parts.configFile;
  const configStore = new ConfigStore({
    file,
    load: () => (file ? loadConfig({ file, env }).config : parts.config),
    envKeys: ENV_OVERRIDES.filter((o) => env[o.env]).map((o) => o.path.join('.')),
    live: liveKeys(features),
  });
  if (file) removeTempsOfKilledWrites(file, parts.log);
  configStore.setEffective(parts.config);
  features.push(configFeature({ store: configStore, infoChanged }));
  return { features, configStore, extensions, update: () => deploy.update() };
}

/** The variants of the active model (the controls' select). */
function activeVariants(models: ModelHost): string[] {
  const active = models.active();
  const entry = active && models.catalog.models().find((m) => m.manifest.name === active.model);
  return entry ? entry.variants.map((v) => v.id) : [];
}

function removeTempsOfKilledWrites(file: string, log: Logger): void {
  try {
    const removed = removeStaleTemps(file);
    if (removed.length > 0) log.warn({ removed }, 'removed temp files of an interrupted config write');
  } catch (err) {
    log.warn({ err: errorMessage(err) }, 'cannot remove temp files of an interrupted config write');
  }
}

/** A derived variant joins the tuner's candidates: measured in the background, then re-decided. */
function retuneAfterDerivation(tuner: TunerController, log: Logger) {
  return (model: string, variant: string) =>
    void tuner.catalogueChanged(`variant derived: ${model}/${variant}`).catch((err: unknown) => {
      log.warn({ err: errorMessage(err) }, 're-tune after the derivation failed');
    });
}

/** The tuner's part of the shared controls: its objective (select) and a background re-tune (button). */
function tunerControls(
  tuner: TunerController,
  configured: string,
  log: Logger,
): Pick<ControlsDeps, 'objective' | 'setObjective' | 'retune'> {
  return {
    objective: () => tuner.policy().objective ?? tuner.current()?.objective ?? configured,
    setObjective: (objective) => tuner.setPolicy({ objective }),
    retune: (reason) => {
      void tuner.tune({ trigger: `${reason}: re-tune`, force: true }).catch((err: unknown) => {
        log.warn({ err: errorMessage(err) }, 're-tune failed');
      });
    },
  };
}
