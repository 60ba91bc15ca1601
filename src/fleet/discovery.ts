import type { DeviceTopics } from './topics.js';

/**
 * Home Assistant MQTT discovery (opt-in): one retained config message per sensor under
 * `<discoveryPrefix>/sensor/<deviceId>/<object>/config`, all tied to one HA device and to our
 * availability topic, reading values from the telemetry JSON. Pure.
 */
export interface DiscoveryMessage {
  topic: string;
  payload: string;
}

interface SensorSpec {
  object: string;
  name: string;
  field: string;
  unit?: string;
  deviceClass?: string;
  stateClass?: 'measurement';
  icon?: string;
  precision?: number;
}

export const DISCOVERY_SENSORS: readonly SensorSpec[] = [
  {
    object: 'fps',
    name: 'Frame rate',
    field: 'fps',
    unit: 'fps',
    stateClass: 'measurement',
    icon: 'mdi:speedometer',
    precision: 1,
  },
  {
    object: 'latency_p95',
    name: 'Latency p95',
    field: 'latencyTotalP95Ms',
    unit: 'ms',
    deviceClass: 'duration',
    stateClass: 'measurement',
    precision: 1,
  },
  {
    object: 'battery',
    name: 'Battery',
    field: 'batteryPercent',
    unit: '%',
    deviceClass: 'battery',
    stateClass: 'measurement',
  },
  {
    object: 'power',
    name: 'Power',
    field: 'powerW',
    unit: 'W',
    deviceClass: 'power',
    stateClass: 'measurement',
    precision: 2,
  },
  {
    object: 'temperature',
    name: 'Temperature',
    field: 'temperatureMaxC',
    unit: '°C',
    deviceClass: 'temperature',
    stateClass: 'measurement',
    precision: 1,
  },
  { object: 'variant', name: 'Active variant', field: 'variant', icon: 'mdi:brain' },
];

export function discoveryMessages(opts: {
  discoveryPrefix: string;
  deviceId: string;
  topics: DeviceTopics;
  version: string;
  model?: string;
}): DiscoveryMessage[] {
  const { deviceId, topics } = opts;
  const device = {
    identifiers: [`edge-agent-${deviceId}`],
    name: `edge-agent ${deviceId}`,
    manufacturer: 'edge-agent',
    model: opts.model ?? 'edge inference node',
    sw_version: opts.version,
  };
  const sensors = DISCOVERY_SENSORS.map((s) => ({
    topic: `${opts.discoveryPrefix}/sensor/${deviceId}/${s.object}/config`,
    payload: JSON.stringify({
      name: s.name,
      unique_id: `edge-agent-${deviceId}-${s.object}`,
      object_id: `edge_agent_${deviceId}_${s.object}`.replace(/-/g, '_'),
      state_topic: topics.telemetry,
      value_template: `{{ value_json.${s.field} | default(None) }}`,
      availability_topic: topics.availability,
      payload_available: 'online',
      payload_not_available: 'offline',
      ...(s.unit ? { unit_of_measurement: s.unit } : {}),
      ...(s.deviceClass ? { device_class: s.deviceClass } : {}),
      ...(s.stateClass ? { state_class: s.stateClass } : {}),
      ...(s.icon ? { icon: s.icon } : {}),
      ...(s.precision !== undefined ? { suggested_display_precision: s.precision } : {}),
      device,
    }),
  }));
  const availability = {
    topic: `${opts.discoveryPrefix}/binary_sensor/${deviceId}/availability/config`,
    payload: JSON.stringify({
      name: 'Online',
      unique_id: `edge-agent-${deviceId}-online`,
      object_id: `edge_agent_${deviceId}_online`.replace(/-/g, '_'),
      state_topic: topics.availability,
      payload_on: 'online',
      payload_off: 'offline',
      device_class: 'connectivity',
      entity_category: 'diagnostic',
      device,
    }),
  };
  return [...sensors, availability];
}
