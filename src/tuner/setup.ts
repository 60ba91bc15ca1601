import { existsSync } from 'node:fs';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import type { DeviceProfile } from '../hardware/schema.js';
import type { Logger } from '../log.js';
import type { Catalog } from '../models/catalog.js';
import type { Store } from '../store/index.js';
import { sensorEnergyMeter } from './energy-meter.js';
import type { TuneProgress } from './measure.js';
import { Tuner } from './tuner.js';
import type { Decision } from './types.js';

/** The frames the tuner measures on: the camera's image folder when it is one, else the bundled samples. */
export function framesDirOf(config: AgentConfig): string | undefined {
  const m = /^images:(.+)$/.exec(config.camera.source);
  return m && existsSync(m[1]!) ? m[1] : undefined;
}

/** A Tuner wired from the config, the profile and the store (CLI and agent build it the same way). */
export function tunerFromConfig(deps: {
  config: AgentConfig;
  profile: DeviceProfile;
  catalog: () => Catalog;
  reloadCatalog?: () => Promise<Catalog>;
  store?: Store | undefined;
  clock: Clock;
  log?: Logger;
  framesDir?: string | undefined;
}): Tuner {
  const { config } = deps;
  return new Tuner({
    catalog: deps.catalog,
    ...(deps.reloadCatalog ? { reloadCatalog: deps.reloadCatalog } : {}),
    profile: deps.profile,
    policy: config.policy,
    modelsDir: config.models.dir,
    dataDir: config.dataDir,
    framesDir: deps.framesDir ?? framesDirOf(config),
    graphOptimization: config.inference.graphOptimization,
    benchmarks: deps.store?.benchmarks,
    decisions: deps.store?.decisions,
    energy: sensorEnergyMeter(deps.profile, () => deps.clock.now()),
    clock: deps.clock,
    log: deps.log,
  });
}

/** The latest recorded decision for a model on this device and catalogue, if any. */
export function latestDecision(
  store: Store | undefined,
  model: string,
  fingerprint: string,
  catalogueHash?: string,
): Decision | undefined {
  for (const r of store?.decisions.list<Decision>(50) ?? []) {
    const d = r.record;
    if (d?.model !== model || d.deviceFingerprint !== fingerprint) continue;
    if (catalogueHash !== undefined && d.catalogueHash !== catalogueHash) continue;
    return d;
  }
  return undefined;
}

/** One human line per progress step (stderr of the CLI, debug log of the agent). */
export function progressLine(p: TuneProgress): string {
  switch (p.stage) {
    case 'plan':
      return `plan: ${p.candidates} candidate(s), ${p.cached} cached, ${p.filtered} filtered by memory`;
    case 'open':
      return `open ${p.done}/${p.total} ${p.candidate}`;
    case 'round':
      return `round ${p.round}/${p.rounds} ${p.candidate}`;
    case 'failed':
      return `FAILED ${p.candidate}: ${p.error}`;
    case 'fidelity':
      return `fidelity of ${p.variant} on the device's frames`;
    case 'derive':
      return `derive ${p.variant} (${p.method})`;
    case 'decided':
      return `decided: ${p.chosen ?? 'nothing'}${p.met ? '' : ' (constraints not met)'}`;
  }
}
