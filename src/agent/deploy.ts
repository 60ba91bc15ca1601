import path from 'node:path';
import type { ConfigStore } from '../config/store.js';
import { catalogInstaller, catalogRemover, deployFeature } from '../features/deploy.js';
import type { Feature } from '../features/feature.js';
import { testCrashHook } from '../fleet/deploy/crash-points.js';
import { Deployer, type UpdateInfo } from '../fleet/deploy/deployer.js';
import { DeployStore, type InstalledVersion } from '../fleet/deploy/state.js';
import { buildKeyRing } from '../trust/envelope.js';
import { agentDeployChecks } from './deploy-checks.js';
import type { AgentParts } from './features.js';

/** The deploy feature built from the agent's parts (its own tables in the agent's database). */
export function agentDeployFeature(
  parts: AgentParts,
  infoChanged: () => Promise<void> | void,
  configStore: () => ConfigStore,
): Feature & { update(): UpdateInfo; deployed(): InstalledVersion[] } {
  const { config, models, pipeline } = parts;
  const trust = config.trust;
  const store = new DeployStore(parts.store.db);
  const switchTo = async (model: string, variant: string) => {
    await models.switchTo({ model, variant });
  };
  const active = () => {
    const a = models.active();
    return a ? { model: a.model, variant: a.variant } : undefined;
  };
  const log = parts.log.child({ component: 'deploy' });
  const checks = agentDeployChecks(
    parts,
    parts.tuner,
    () => store.versions().filter((v) => v.status === 'active'),
    log,
  );
  const persist = async (model: string, variant: string) => {
    if (!parts.configFile.file) return; // no file: the choice lasts until the agent restarts
    await configStore().set({ models: { default: model, variant } });
  };
  const crash = testCrashHook(process.env); // test only: undefined unless EDGE_AGENT_TEST_CRASH_AT is set
  const deployer = new Deployer({
    deviceId: parts.deviceId,
    dataDir: path.resolve(config.dataDir),
    keys: buildKeyRing(trust).keys,
    clockSkewMs: trust.clockSkewS * 1000,
    store,
    clock: parts.clock,
    log,
    limits: {
      idleTimeoutMs: trust.deploy.idleTimeoutS * 1000,
      deadlineMs: trust.deploy.deadlineS * 1000,
      validateTimeoutMs: trust.deploy.validateTimeoutS * 1000,
      validateHeapMB: trust.deploy.validateHeapMB,
      healthWindowMs: trust.deploy.healthWindowS * 1000,
      latencyFactor: trust.deploy.latencyFactor,
      minInferences: trust.deploy.minInferences,
      keepVersions: trust.deploy.keepVersions,
      validateMemoryMB: trust.deploy.validateMemoryMB,
      compareFrames: trust.deploy.compareFrames,
      minFidelity: trust.deploy.minFidelity,
      collapseRatio: trust.deploy.collapseRatio,
      maxSlowdown: trust.deploy.maxSlowdown,
    },
    host: {
      checks,
      install: catalogInstaller({
        catalog: () => models.catalog,
        reloadCatalog: () => models.reloadCatalog(),
        crash,
      }),
      active,
      switchTo,
      remove: catalogRemover({
        catalog: () => models.catalog,
        reloadCatalog: () => models.reloadCatalog(),
        active,
      }),
      persist,
      // The tuner's measured p95 of the variant serving before the switch, when it measured one.
      tunedLatencyMs: () => {
        const a = models.active();
        const measured = parts.tuner
          ?.current()
          ?.candidates.find((c) => c.variant === a?.variant && c.status === 'ok' && c.latencyMs);
        return measured?.latencyMs?.p95;
      },
      health: () => {
        const s = pipeline.stats();
        const latency = s.latency.inferenceMs;
        return {
          processed: s.counters.processed,
          failed: s.counters.failed,
          latencyP95Ms: latency.count > 0 ? latency.p95Ms : undefined,
        };
      },
    },
    progress: (data) => parts.store.events.emit('deploy-model-progress', data),
    ...(crash ? { crash } : {}),
  });
  checks.restorePins();
  return {
    ...deployFeature({ deployer, store, infoChanged, switchTo, active, persist }),
    update: () => deployer.update(),
    deployed: () => store.versions(),
  };
}
