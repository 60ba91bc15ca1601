import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../../src/agent.js';
import { parseConfig } from '../../../src/config/index.js';
import { REQUIRED_KEYS } from '../../../src/fleet/discovery.js';
import { silentLogger } from '../../../src/log.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { waitUntil } from '../../helpers/wait.js';
import { Observer } from '../mqtt/support.js';

const run = requireMosquitto();
const ID = 'ha-e2e';
const BASE = `edge-agent/${ID}`;

/** What Home Assistant does with a command_template: `{{ value }}` replaced by the value. */
const render = (template: string, value: string | number) => template.replace('{{ value }}', String(value));

describe.runIf(run)('Home Assistant over a real broker (Mosquitto) against the running agent', () => {
  let broker: Mosquitto;
  let observer: Observer;
  let agent: Agent;
  const configs = new Map<string, Record<string, unknown>>();

  beforeAll(async () => {
    broker = await Mosquitto.start();
    observer = await Observer.connect(broker.url, {}, ['homeassistant/#', `${BASE}/#`]);
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-ha-'));
    agent = new Agent({
      config: parseConfig({
        deviceId: ID,
        dataDir: path.join(dir, 'data'),
        models: { dir: MODELS, default: 'yolox-nano' },
        inference: { threads: 1 },
        camera: { source: `images:${REPO}/samples`, fps: 5 },
        pipeline: { fps: 5 },
        http: { port: 0 },
        mqtt: {
          url: broker.url,
          results: { enabled: false },
          homeAssistant: { enabled: true, snapshotIntervalS: 1, offDelayS: 30 },
        },
        telemetry: { intervalS: 1 },
        log: { level: 'silent' },
      }),
      log: silentLogger(),
    });
    await agent.start();
    // Discovery of the labels seen comes once the first detections are in.
    await waitUntil(
      () => observer.messages.some((m) => /^homeassistant\/sensor\/ha-e2e\/\w+_count\/config$/.test(m.topic)),
      60_000,
      () => `topics so far: ${[...new Set(observer.messages.map((m) => m.topic))].join(' ')}`,
    );
    // Every topic a config reads from must carry messages: wait for telemetry, state, snapshot, events.
    await waitUntil(
      () =>
        [
          `${BASE}/telemetry`,
          `${BASE}/state`,
          `${BASE}/snapshot`,
          `${BASE}/detections`,
          `${BASE}/detection`,
        ].every((t) => observer.on(t).length > 0),
      60_000,
      () => `seen: ${[...new Set(observer.messages.map((m) => m.topic))].join(' ')}`,
    );
    for (const m of observer.messages) {
      if (!m.topic.startsWith('homeassistant/') || !m.topic.endsWith('/config')) continue;
      if (m.payload.length === 0) configs.delete(m.topic);
      else configs.set(m.topic, JSON.parse(m.payload.toString()) as Record<string, unknown>);
    }
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await observer?.close();
    await broker?.stop();
  });

  it('every entity follows the discovery schema and uses only topics the agent publishes or serves', () => {
    expect(configs.size).toBeGreaterThan(8);
    const components = new Set<string>();
    for (const [topic, config] of configs) {
      const component = topic.split('/')[1] as keyof typeof REQUIRED_KEYS;
      components.add(component);
      for (const key of REQUIRED_KEYS[component]) expect(config, `${topic} needs ${key}`).toHaveProperty(key);
      expect(config).not.toHaveProperty('object_id');
      expect(config.default_entity_id).toMatch(/^[a-z_]+\.edge_agent_ha_e2e_/);
      expect((config.device as { model: string }).model).not.toBe('yolox-nano');
      expect(config.origin).toMatchObject({ name: 'edge-agent' });
      for (const key of ['state_topic', 'topic', 'availability_topic']) {
        const t = config[key];
        if (typeof t === 'string')
          expect(observer.on(t).length, `${topic}: nothing published on ${t}`).toBeGreaterThan(0);
      }
      const command = config.command_topic;
      if (typeof command === 'string') {
        const name = command.slice(`${BASE}/request/`.length);
        expect(command.startsWith(`${BASE}/request/`)).toBe(true);
        expect(agent.fleet!.hasCommand(name), `${topic}: no command ${name}`).toBe(true);
      }
    }
    for (const c of ['sensor', 'binary_sensor', 'camera', 'event', 'select', 'number', 'button', 'switch'])
      expect(components).toContain(c);
    const snapshot = observer.on(`${BASE}/snapshot`).at(-1)!.payload;
    expect([snapshot[0], snapshot[1]]).toEqual([0xff, 0xd8]);
    const detections = observer.json(`${BASE}/detections`).at(-1)!;
    expect(Object.keys(detections.counts as object).length).toBeGreaterThan(0);
  });

  it('the number sets the fps and the switch turns inference off and on, and the state follows', async () => {
    const number = configs.get(`homeassistant/number/${ID}/fps_target/config`)!;
    await observer.client.publishAsync(
      number.command_topic as string,
      render(number.command_template as string, 2),
      { qos: 1 },
    );
    await waitUntil(() => {
      const p = agent.pipeline!.stats().pacing;
      return p.mode === 'continuous' && p.fps === 2;
    }, 10_000);
    await waitUntil(() => observer.json(`${BASE}/state`).at(-1)?.fps === 2, 10_000);

    const sw = configs.get(`homeassistant/switch/${ID}/inference/config`)!;
    await observer.client.publishAsync(sw.command_topic as string, sw.payload_off as string, { qos: 1 });
    await waitUntil(() => observer.json(`${BASE}/state`).at(-1)?.inference === false, 10_000);
    expect(agent.pipeline!.stats().pacing.mode).toBe('duty-cycle');
    const processed = agent.pipeline!.stats().counters.processed;
    await new Promise((r) => setTimeout(r, 1500));
    expect(agent.pipeline!.stats().counters.processed).toBeLessThanOrEqual(processed + 1);
    await observer.client.publishAsync(sw.command_topic as string, sw.payload_on as string, { qos: 1 });
    await waitUntil(() => observer.json(`${BASE}/state`).at(-1)?.inference === true, 10_000);
    expect(agent.pipeline!.stats().pacing).toMatchObject({ mode: 'continuous', fps: 2 });
    await waitUntil(() => agent.pipeline!.stats().counters.processed > processed + 1, 20_000);
  }, 60_000);

  it('re-publishes discovery when Home Assistant comes online', async () => {
    const topic = `homeassistant/switch/${ID}/inference/config`;
    const before = observer.on(topic).length;
    await observer.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
    await waitUntil(() => observer.on(topic).length > before, 10_000);
  });
});
