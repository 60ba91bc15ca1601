import { describe, expect, it } from 'vitest';
import { dashboardUrl, haDevice } from '../../../src/agent/home-assistant.js';
import { parseConfig } from '../../../src/config/index.js';
import {
  type DiscoveryInput,
  discoveryMessages,
  haTopics,
  REQUIRED_KEYS,
  slug,
} from '../../../src/fleet/discovery.js';
import { countLabels } from '../../../src/fleet/home-assistant.js';
import { deviceTopics } from '../../../src/fleet/topics.js';

function input(over: Partial<DiscoveryInput> = {}): DiscoveryInput {
  return {
    discoveryPrefix: 'homeassistant',
    deviceId: 'cam-1',
    topics: deviceTopics('edge-agent', 'cam-1'),
    ha: haTopics('edge-agent', 'cam-1'),
    version: '0.1.0',
    board: 'Raspberry Pi 5 Model B Rev 1.0',
    configurationUrl: 'http://cam-1.local:8080/',
    has: { battery: false, power: false, temperature: true },
    labels: ['person', 'traffic light'],
    variants: ['fp32', 'fp32_int8w'],
    offDelayS: 30,
    commands: { tune: false, setPolicy: false },
    objectives: [],
    ...over,
  };
}

const parsed = (i: DiscoveryInput) =>
  new Map(discoveryMessages(i).map((m) => [m.topic, m.payload === '' ? null : JSON.parse(m.payload)]));

describe('Home Assistant discovery (pure)', () => {
  it('every entity has the keys its component requires, default_entity_id (not object_id), origin and the board as model', () => {
    for (const [topic, config] of parsed(input())) {
      if (config === null) continue;
      const component = topic.split('/')[1] as keyof typeof REQUIRED_KEYS;
      for (const key of REQUIRED_KEYS[component]) expect(config, `${topic} ${key}`).toHaveProperty(key);
      expect(config).not.toHaveProperty('object_id');
      expect(config.default_entity_id).toMatch(new RegExp(`^${component}\\.edge_agent_cam_1_[a-z0-9_]+$`));
      expect(config.unique_id).toMatch(/^edge-agent-cam-1-/);
      expect(config.origin).toEqual({ name: 'edge-agent', sw_version: '0.1.0' });
      expect(config.device).toMatchObject({
        identifiers: ['edge-agent-cam-1'],
        model: 'Raspberry Pi 5 Model B Rev 1.0',
        configuration_url: 'http://cam-1.local:8080/',
      });
      expect(config.availability_topic).toBe('edge-agent/cam-1/availability');
    }
  });

  it('removes (empty retained payload) entities the device cannot back, and keeps the ones it can', () => {
    const m = parsed(input());
    expect(m.get('homeassistant/sensor/cam-1/battery/config')).toBeNull();
    expect(m.get('homeassistant/sensor/cam-1/power/config')).toBeNull();
    expect(m.get('homeassistant/sensor/cam-1/temperature/config')).toMatchObject({
      device_class: 'temperature',
    });
    const withBattery = parsed(input({ has: { battery: true, power: true, temperature: false } }));
    expect(withBattery.get('homeassistant/sensor/cam-1/battery/config')).toMatchObject({
      device_class: 'battery',
    });
    expect(withBattery.get('homeassistant/sensor/cam-1/temperature/config')).toBeNull();
    // The battery planner's predicted life goes with the battery.
    expect(m.get('homeassistant/sensor/cam-1/battery_predicted_hours/config')).toBeNull();
    expect(withBattery.get('homeassistant/sensor/cam-1/battery_predicted_hours/config')).toMatchObject({
      unit_of_measurement: 'h',
      device_class: 'duration',
      value_template: '{{ value_json.batteryPredictedHours | default(None) }}',
    });
  });

  it('per label: a count sensor and an occupancy binary sensor with off_delay; an event for detections', () => {
    const m = parsed(input());
    const count = m.get('homeassistant/sensor/cam-1/traffic_light_count/config');
    expect(count.state_topic).toBe('edge-agent/cam-1/detections');
    expect(count.value_template).toBe("{{ (value_json.counts['traffic light'] | default(0) | int) }}");
    const occupancy = m.get('homeassistant/binary_sensor/cam-1/person_occupancy/config');
    expect(occupancy).toMatchObject({ device_class: 'occupancy', off_delay: 30, payload_on: 'ON' });
    expect(m.get('homeassistant/event/cam-1/detection/config')).toMatchObject({
      state_topic: 'edge-agent/cam-1/detection',
      event_types: ['person', 'traffic light'],
    });
    expect(m.get('homeassistant/camera/cam-1/snapshot/config').topic).toBe('edge-agent/cam-1/snapshot');
    expect(slug("Jack-o'-Lantern")).toBe('jack_o_lantern');
  });

  it('controls point at the request topics the router serves; optional tuner controls follow the command table', () => {
    const m = parsed(input());
    expect(m.get('homeassistant/number/cam-1/fps_target/config')).toMatchObject({
      command_topic: 'edge-agent/cam-1/request/set-fps',
      command_template: '{"fps": {{ value }}}',
    });
    expect(m.get('homeassistant/select/cam-1/variant/config')).toMatchObject({
      command_topic: 'edge-agent/cam-1/request/set-model',
      options: ['fp32', 'fp32_int8w'],
    });
    expect(m.get('homeassistant/switch/cam-1/inference/config').command_topic).toBe(
      'edge-agent/cam-1/request/set-inference',
    );
    expect(m.get('homeassistant/button/cam-1/restart/config').command_topic).toBe(
      'edge-agent/cam-1/request/restart',
    );
    expect(m.get('homeassistant/button/cam-1/retune/config')).toBeNull();
    expect(m.get('homeassistant/select/cam-1/objective/config')).toBeNull();
    const tuner = parsed(
      input({ commands: { tune: true, setPolicy: true }, objectives: ['max-accuracy', 'min-latency'] }),
    );
    expect(tuner.get('homeassistant/button/cam-1/retune/config').command_topic).toBe(
      'edge-agent/cam-1/request/tune',
    );
    expect(tuner.get('homeassistant/select/cam-1/objective/config').options).toEqual([
      'max-accuracy',
      'min-latency',
    ]);
  });

  it('counts labels of detections, and the top class of a classification', () => {
    const d = (label: string) => ({
      label,
      classId: 0,
      score: 0.9,
      box: [0, 0, 1, 1] as [number, number, number, number],
    });
    expect(countLabels({ detections: [d('person'), d('person'), d('dog')] })).toEqual({ person: 2, dog: 1 });
    expect(countLabels({ detections: [] })).toEqual({});
    expect(countLabels({ classes: [{ label: 'espresso', classId: 1, score: 0.7 }] })).toEqual({
      espresso: 1,
    });
  });

  it('the device block: board from the profile, sensors it has; the dashboard URL from http settings', () => {
    const profile = {
      board: { family: 'x86', compatible: [], virtualized: false, container: true },
      cpu: { modelName: 'AMD EPYC 7B13' },
      power: { source: 'unknown', sensors: [] },
      thermal: { zones: [] },
    } as unknown as Parameters<typeof haDevice>[0];
    expect(haDevice(profile)).toEqual({
      board: 'AMD EPYC 7B13',
      has: { battery: false, power: false, temperature: false },
    });
    expect(dashboardUrl(parseConfig({ http: { port: 8080 } }))).toBe('http://127.0.0.1:8080/');
    expect(
      dashboardUrl(parseConfig({ mqtt: { homeAssistant: { configurationUrl: 'https://cam.example/' } } })),
    ).toBe('https://cam.example/');
    expect(dashboardUrl(parseConfig({ http: { enabled: false } }))).toBeUndefined();
  });
});
