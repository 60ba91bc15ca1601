import { hostname } from 'node:os';
import type { AgentConfig } from '../config/index.js';
import { isLoopbackHost } from '../config/schema.js';
import type { HaDevice } from '../fleet/home-assistant.js';
import type { DeviceProfile } from '../hardware/index.js';

/** The board name and the sensors Home Assistant entities can be backed by. Pure. */
export function haDevice(profile: Pick<DeviceProfile, 'board' | 'cpu' | 'power' | 'thermal'>): HaDevice {
  const generic = ['x86', 'arm', 'unknown'].includes(profile.board.family);
  const board =
    profile.board.model ?? (generic ? (profile.cpu.modelName ?? 'Linux computer') : profile.board.family);
  return {
    board,
    has: {
      battery: profile.power.battery !== undefined,
      power: profile.power.sensors.length > 0,
      temperature: profile.thermal.zones.length > 0,
    },
  };
}

/** The dashboard URL for Home Assistant's device page: configured, else from http.host/port. */
export function dashboardUrl(config: AgentConfig): string | undefined {
  if (config.mqtt.homeAssistant.configurationUrl) return config.mqtt.homeAssistant.configurationUrl;
  if (!config.http.enabled || config.http.port === 0) return undefined;
  const { host, port } = config.http;
  const shown = host === '0.0.0.0' || host === '::' ? hostname() : isLoopbackHost(host) ? '127.0.0.1' : host;
  return `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}/`;
}
