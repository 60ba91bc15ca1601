import type { Controls } from '../agent/controls.js';
import { dashboardUrl, haDevice } from '../agent/home-assistant.js';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { HomeAssistantBridge } from '../fleet/home-assistant.js';
import type { FleetExtension } from '../fleet/service.js';
import { deviceTopics } from '../fleet/topics.js';
import type { DeviceProfile } from '../hardware/index.js';
import type { Logger } from '../log.js';
import { annotateFrame } from '../pipeline/annotate.js';
import type { ResultStream } from '../pipeline/pipeline.js';
import { OBJECTIVE_IDS } from '../tuner/objectives.js';
import type { Feature } from './feature.js';

export interface HomeAssistantFeatureDeps {
  config: AgentConfig;
  deviceId: string;
  version: string;
  clock: Clock;
  log: Logger;
  controls: Controls;
  variants(): string[];
  /** The results to count labels in, and the newest frame to take snapshots of. */
  results: Pick<ResultStream, 'onResult' | 'latestFrame'>;
  profile(): Promise<DeviceProfile>;
  /** Whether the agent has a command (the tuner's `tune` and `set-policy` add their controls). */
  hasCommand(name: string): boolean;
}

/**
 * Home Assistant: detections as entities and the controls, over the fleet's MQTT link
 * (src/fleet/home-assistant.ts). A feature plus a fleet extension: the link tells it of every
 * (re)connect and hands it Home Assistant's status messages.
 */
export function homeAssistantFeature(deps: HomeAssistantFeatureDeps): Feature & { mqtt: FleetExtension } {
  const bridge = new HomeAssistantBridge({
    config: deps.config.mqtt,
    deviceId: deps.deviceId,
    topics: deviceTopics(deps.config.mqtt.prefix, deps.deviceId),
    version: deps.version,
    clock: deps.clock,
    log: deps.log,
    device: async () => haDevice(await deps.profile()),
    state: () => {
      const state = deps.controls.state();
      return state ? { ...state } : undefined;
    },
    variants: deps.variants,
    hasCommand: deps.hasCommand,
    objectives: OBJECTIVE_IDS,
    snapshot: async () => {
      const pair = await deps.results.latestFrame();
      return pair && annotateFrame(pair.frame, pair.result, { quality: 75, maxWidth: 1280 });
    },
    configurationUrl: dashboardUrl(deps.config),
  });
  let off: (() => void) | undefined;
  return {
    name: 'home-assistant',
    mqtt: bridge,
    start(signal) {
      bridge.start(signal);
      off = deps.results.onResult((result) => bridge.observe(result));
    },
    stop() {
      off?.();
      bridge.stop();
    },
  };
}
