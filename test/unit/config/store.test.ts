import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AgentConfig, loadConfig } from '../../../src/config/index.js';
import { ConfigStore, changedPaths, mergePatch } from '../../../src/config/store.js';
import { ConfigError } from '../../../src/errors.js';

describe('merge patch', () => {
  it('merges objects, replaces arrays and scalars, deletes on null (RFC 7396)', () => {
    expect(
      mergePatch({ a: { b: 1, c: 2 }, d: [1, 2], e: 1 }, { a: { b: 5, c: null }, d: [3], f: 'x' }),
    ).toEqual({
      a: { b: 5 },
      d: [3],
      e: 1,
      f: 'x',
    });
  });

  it('refuses prototype keys and absurd nesting', () => {
    expect(() => mergePatch({}, JSON.parse('{"__proto__": {"polluted": true}}'))).toThrow(ConfigError);
    let deep: Record<string, unknown> = { x: 1 };
    for (let i = 0; i < 40; i++) deep = { a: deep };
    expect(() => mergePatch({}, deep)).toThrow(/deeper than/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('lists changed leaves by dotted path', () => {
    expect(changedPaths({ a: { b: 1, c: [1] }, d: 1 }, { a: { b: 2, c: [1] }, e: 1 })).toEqual([
      'a.b',
      'd',
      'e',
    ]);
  });
});

describe('ConfigStore (get-config / set-config)', () => {
  function setup(initial: Record<string, unknown>, env: Record<string, string> = {}) {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-setcfg-'));
    const file = path.join(dir, 'agent.config.json');
    writeFileSync(file, JSON.stringify(initial));
    const applied: Array<{ key: string; config: AgentConfig }> = [];
    const store = new ConfigStore({
      file,
      load: () => loadConfig({ file, env }).config,
      envKeys: Object.keys(env).length ? ['mqtt.url'] : [],
      live: [
        { prefix: 'telemetry.intervalS', apply: (c) => void applied.push({ key: 'telemetry', config: c }) },
        {
          prefix: 'mqtt.results',
          apply: () => {
            throw new Error('results publisher refused');
          },
        },
      ],
    });
    return { dir, file, store, applied };
  }

  it('persists a valid patch atomically, applies live keys and lists restart keys', async () => {
    const { dir, file, store, applied } = setup({ camera: { fps: 2 }, telemetry: { intervalS: 10 } });
    const result = await store.set({
      telemetry: { intervalS: 5 },
      camera: { fps: 4 },
      mqtt: { results: { maxPerS: 3 } },
    });
    expect(result.applied).toEqual(['telemetry.intervalS']);
    expect(result.restartRequired.sort()).toEqual(['camera.fps', 'mqtt.results.maxPerS']);
    expect(result.failed).toEqual([{ key: 'mqtt.results.maxPerS', error: 'results publisher refused' }]);
    expect(applied[0]!.config.telemetry.intervalS).toBe(5);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      camera: { fps: 4 },
      telemetry: { intervalS: 5 },
      mqtt: { results: { maxPerS: 3 } },
    });
    expect(store.effective().camera.fps).toBe(4);
    expect(readdirSync(dir)).toEqual(['agent.config.json']); // no temp file left behind
  });

  it('refuses an invalid patch with the bad field named and changes nothing', async () => {
    const { file, store } = setup({ camera: { fps: 2 } });
    const before = readFileSync(file, 'utf8');
    await expect(store.set({ camera: { fps: 'fast' } })).rejects.toThrow(/camera\.fps: expected number/);
    await expect(store.set({ mqtt: { nope: 1 } })).rejects.toThrow(/mqtt\.nope: unknown key/);
    expect(readFileSync(file, 'utf8')).toBe(before);
    expect(store.effective().camera.fps).toBe(2);
  });

  it('reports keys an environment variable overrides', async () => {
    const { store } = setup({}, { EDGE_AGENT_MQTT_URL: 'mqtt://broker:1883' });
    const result = await store.set({ mqtt: { url: 'mqtt://other:1883' } });
    expect(result.shadowedByEnv).toEqual(['mqtt.url']);
    expect(result.changed).toEqual([]); // the effective URL is still the environment's
  });

  it('without a config file, set-config says how to get one', async () => {
    const store = new ConfigStore({
      file: undefined,
      load: () => loadConfig({ env: {}, cwd: tmpdir() }).config,
      live: [],
    });
    await expect(store.set({ camera: { fps: 3 } })).rejects.toThrow(/--config FILE/);
  });
});
