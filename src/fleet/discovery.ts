import type { DeviceTopics } from './topics.js';

/**
 * Home Assistant MQTT discovery (opt-in). Pure: from what the device can back (its sensors, the
 * labels it detects, the controls this build has) to one retained config message per entity
 * under `<discoveryPrefix>/<component>/<deviceId>/<object>/config`, all tied to one HA device and
 * to our availability topic. Entities the device cannot back get an empty retained payload, which
 * removes one published by an older version.
 */
export interface DiscoveryMessage {
  topic: string;
  /** Empty string = remove the entity (and its retained config). */
  payload: string;
}

/** The topics the Home Assistant side reads and writes, besides the fleet's own. */
export interface HaTopics {
  /** Retained JSON: `{inference: "ON"|"OFF", model, variant, variants, fps}` (ControlState). */
  state: string;
  /** JSON `{ts, counts: {label: n}}`, on change and while something is seen. */
  detections: string;
  /** JSON `{event_type: label, count, score}` when a label appears. */
  detection: string;
  /** The latest annotated frame as JPEG bytes, rate-limited. */
  snapshot: string;
}

export function haTopics(prefix: string, deviceId: string): HaTopics {
  const base = `${prefix}/${deviceId}`;
  return {
    state: `${base}/state`,
    detections: `${base}/detections`,
    detection: `${base}/detection`,
    snapshot: `${base}/snapshot`,
  };
}

export interface DiscoveryInput {
  discoveryPrefix: string;
  deviceId: string;
  topics: DeviceTopics;
  ha: HaTopics;
  version: string;
  /** The board (device-tree model or DMI product), from the hardware profile. */
  board: string;
  /** The dashboard, when it is served. */
  configurationUrl?: string | undefined;
  /** Sensors the board has; entities for absent ones are removed. */
  has: { battery: boolean; power: boolean; temperature: boolean };
  /** Labels that get a count sensor and an occupancy binary sensor. */
  labels: readonly string[];
  /** Variants of the active model, for the select. */
  variants: readonly string[];
  /** Occupancy turns off this long after the last detection. */
  offDelayS: number;
  /** Optional commands this build has (the tuner's), each adds its control. */
  commands: { tune: boolean; setPolicy: boolean };
  objectives: readonly string[];
}

type Component = 'sensor' | 'binary_sensor' | 'camera' | 'event' | 'select' | 'number' | 'button' | 'switch';

/** Keys Home Assistant requires per component (MQTT integration schemas). */
export const REQUIRED_KEYS: Record<Component, readonly string[]> = {
  sensor: ['state_topic'],
  binary_sensor: ['state_topic'],
  camera: ['topic'],
  event: ['state_topic', 'event_types'],
  select: ['command_topic', 'options'],
  number: ['command_topic'],
  button: ['command_topic'],
  switch: ['command_topic'],
};

/** `person` → `person`, `traffic light` → `traffic_light` (entity ids allow [a-z0-9_]). */
export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'x'
  );
}

/** A Jinja string literal for a label (labels come from the model's label file). */
function jinjaString(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function discoveryMessages(input: DiscoveryInput): DiscoveryMessage[] {
  const { deviceId, topics, ha } = input;
  const idBase = `edge_agent_${slug(deviceId)}`;
  const device = {
    identifiers: [`edge-agent-${deviceId}`],
    name: `edge-agent ${deviceId}`,
    manufacturer: 'edge-agent',
    model: input.board,
    sw_version: input.version,
    ...(input.configurationUrl ? { configuration_url: input.configurationUrl } : {}),
  };
  const origin = { name: 'edge-agent', sw_version: input.version };
  const messages: DiscoveryMessage[] = [];
  const entity = (component: Component, object: string, config: Record<string, unknown> | false) => {
    const topic = `${input.discoveryPrefix}/${component}/${deviceId}/${object}/config`;
    if (!config) {
      messages.push({ topic, payload: '' });
      return;
    }
    messages.push({
      topic,
      payload: JSON.stringify({
        ...config,
        unique_id: `edge-agent-${deviceId}-${object}`,
        default_entity_id: `${component}.${idBase}_${object}`,
        availability_topic: topics.availability,
        payload_available: 'online',
        payload_not_available: 'offline',
        device,
        origin,
      }),
    });
  };
  const telemetry = (field: string) => ({
    state_topic: topics.telemetry,
    value_template: `{{ value_json.${field} | default(None) }}`,
  });
  const measurement = { state_class: 'measurement' };

  // Health, from the telemetry message.
  entity('sensor', 'fps', {
    name: 'Frame rate',
    ...telemetry('fps'),
    unit_of_measurement: 'fps',
    ...measurement,
    icon: 'mdi:speedometer',
    suggested_display_precision: 1,
  });
  entity('sensor', 'latency_p95', {
    name: 'Latency p95',
    ...telemetry('latencyTotalP95Ms'),
    unit_of_measurement: 'ms',
    device_class: 'duration',
    ...measurement,
    suggested_display_precision: 1,
  });
  entity(
    'sensor',
    'battery',
    input.has.battery && {
      name: 'Battery',
      ...telemetry('batteryPercent'),
      unit_of_measurement: '%',
      device_class: 'battery',
      ...measurement,
    },
  );
  // The battery planner's predicted life (docs/battery.md); unknown until a plan is in force.
  entity(
    'sensor',
    'battery_predicted_hours',
    input.has.battery && {
      name: 'Battery predicted life',
      ...telemetry('batteryPredictedHours'),
      unit_of_measurement: 'h',
      device_class: 'duration',
      ...measurement,
      icon: 'mdi:battery-clock',
      suggested_display_precision: 1,
    },
  );
  entity(
    'sensor',
    'power',
    input.has.power && {
      name: 'Power',
      ...telemetry('powerW'),
      unit_of_measurement: 'W',
      device_class: 'power',
      ...measurement,
      suggested_display_precision: 2,
    },
  );
  entity(
    'sensor',
    'temperature',
    input.has.temperature && {
      name: 'Temperature',
      ...telemetry('temperatureMaxC'),
      unit_of_measurement: '°C',
      device_class: 'temperature',
      ...measurement,
      suggested_display_precision: 1,
    },
  );
  entity('binary_sensor', 'availability', {
    name: 'Online',
    state_topic: topics.availability,
    payload_on: 'online',
    payload_off: 'offline',
    device_class: 'connectivity',
    entity_category: 'diagnostic',
  });

  // What the camera sees.
  for (const label of input.labels) {
    const key = slug(label);
    const count = `(value_json.counts[${jinjaString(label)}] | default(0) | int)`;
    entity('sensor', `${key}_count`, {
      name: `${label} count`,
      state_topic: ha.detections,
      value_template: `{{ ${count} }}`,
      unit_of_measurement: 'objects',
      ...measurement,
      icon: 'mdi:counter',
    });
    entity('binary_sensor', `${key}_occupancy`, {
      name: `${label} detected`,
      state_topic: ha.detections,
      value_template: `{{ 'ON' if ${count} > 0 else 'OFF' }}`,
      payload_on: 'ON',
      payload_off: 'OFF',
      device_class: 'occupancy',
      off_delay: input.offDelayS,
    });
  }
  entity('camera', 'snapshot', { name: 'Annotated frame', topic: ha.snapshot });
  entity(
    'event',
    'detection',
    input.labels.length > 0 && {
      name: 'Detection',
      state_topic: ha.detection,
      event_types: [...input.labels],
      icon: 'mdi:motion-sensor',
    },
  );

  // Controls: commands go to the fleet's request topics, state comes from the retained state.
  entity('switch', 'inference', {
    name: 'Inference',
    command_topic: topics.request('set-inference'),
    payload_on: '{"enabled":true}',
    payload_off: '{"enabled":false}',
    state_topic: ha.state,
    value_template: `{{ 'ON' if value_json.inference else 'OFF' }}`,
    state_on: 'ON',
    state_off: 'OFF',
    icon: 'mdi:eye',
  });
  entity('number', 'fps_target', {
    name: 'Target frame rate',
    command_topic: topics.request('set-fps'),
    command_template: '{"fps": {{ value }}}',
    state_topic: ha.state,
    // null (no limit) renders as "None", Home Assistant's payload_reset: the number shows unknown.
    value_template: '{{ value_json.fps }}',
    min: 0.5,
    max: 30,
    step: 0.5,
    mode: 'box',
    unit_of_measurement: 'fps',
    entity_category: 'config',
  });
  entity(
    'select',
    'variant',
    input.variants.length > 0 && {
      name: 'Model variant',
      command_topic: topics.request('set-model'),
      command_template: '{"variant": "{{ value }}"}',
      state_topic: ha.state,
      value_template: '{{ value_json.variant }}',
      options: [...input.variants],
      entity_category: 'config',
      icon: 'mdi:brain',
    },
  );
  entity(
    'select',
    'objective',
    input.commands.setPolicy &&
      input.objectives.length > 0 && {
        name: 'Tuning objective',
        command_topic: topics.request('set-policy'),
        command_template: '{"objective": "{{ value }}"}',
        state_topic: ha.state,
        value_template: '{{ value_json.objective | default(None) }}',
        options: [...input.objectives],
        entity_category: 'config',
      },
  );
  entity('button', 'restart', {
    name: 'Restart',
    command_topic: topics.request('restart'),
    payload_press: '{"reason":"Home Assistant"}',
    device_class: 'restart',
    entity_category: 'config',
  });
  entity(
    'button',
    'retune',
    input.commands.tune && {
      name: 'Re-tune',
      command_topic: topics.request('tune'),
      payload_press: '{"force":true}',
      entity_category: 'config',
      icon: 'mdi:tune',
    },
  );
  return messages;
}
