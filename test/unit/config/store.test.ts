import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AgentConfig, loadConfig } from '../../../src/config/index.js';
import { ConfigStore, changedPaths, mergePatch, removeStaleTemps } from '../../../src/config/store.js';
import { ConfigError } from '../../../src/errors.js';
import { liveKeys } from '../../../src/features/feature.js';
import { modelsFeature } from '../../../src/features/models.js';

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

describe('set-config writes keep the file what it was (issue 12 item 4)', () => {
  function configIn(dir: string, name = 'agent.config.json'): string {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify({ camera: { fps: 2 } }));
    return file;
  }
  const storeFor = (file: string) =>
    new ConfigStore({ file, load: () => loadConfig({ file }).config, live: [] });

  it('keeps the mode of a 0600 config', async () => {
    const file = configIn(mkdtempSync(path.join(tmpdir(), 'ea-mode-')));
    chmodSync(file, 0o600);
    await storeFor(file).set({ camera: { fps: 3 } });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8')).camera.fps).toBe(3);
  });

  it('keeps the owner of the config (when the agent may chown, as root under systemd)', async (ctx) => {
    if (process.getuid?.() !== 0) ctx.skip();
    const file = configIn(mkdtempSync(path.join(tmpdir(), 'ea-owner-')));
    chownSync(file, 4321, 4322);
    await storeFor(file).set({ camera: { fps: 3 } });
    expect(statSync(file)).toMatchObject({ uid: 4321, gid: 4322 });
  });

  it('writes through a symbolic link: the link stays, its target gets the new content', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-link-'));
    mkdirSync(path.join(dir, 'etc'));
    const target = configIn(path.join(dir, 'etc'), 'real.json');
    const link = path.join(dir, 'agent.config.json');
    symlinkSync(target, link);
    await storeFor(link).set({ camera: { fps: 5 } });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(target, 'utf8')).camera.fps).toBe(5);
    expect(readdirSync(path.join(dir, 'etc'))).toEqual(['real.json']);
  });

  it('removes temp files a killed write left behind, and nothing else', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-stale-'));
    const file = configIn(dir);
    writeFileSync(path.join(dir, '.agent.config.json.0a1b2c3d.tmp'), '{"half');
    writeFileSync(path.join(dir, '.other.json.0a1b2c3d.tmp'), 'not ours');
    writeFileSync(path.join(dir, 'notes.tmp'), 'not ours');
    expect(removeStaleTemps(file)).toEqual([path.join(dir, '.agent.config.json.0a1b2c3d.tmp')]);
    expect(readdirSync(dir).sort()).toEqual(['.other.json.0a1b2c3d.tmp', 'agent.config.json', 'notes.tmp']);
  });
});

describe('set-config says truthfully what is live', () => {
  it('models.dir needs a restart; models.default/variant are switched live', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-live-'));
    const file = path.join(dir, 'agent.config.json');
    writeFileSync(file, JSON.stringify({ models: { default: 'yolox-nano' } }));
    const switched: unknown[] = [];
    const models = modelsFeature({
      models: {
        catalog: { models: () => [] } as never,
        active: () => undefined,
        switchTo: async (target) => {
          switched.push(target);
          const m = { model: 'x', variant: 'y' };
          return { changed: true, from: m, to: m };
        },
      },
      decision: () => ({}),
    });
    const store = new ConfigStore({
      file,
      load: () => loadConfig({ file }).config,
      live: liveKeys([models]),
    });
    const moved = await store.set({ models: { dir: path.join(dir, 'elsewhere') } });
    expect(moved).toMatchObject({ applied: [], restartRequired: ['models.dir'] });
    expect(switched).toEqual([]);
    const both = await store.set({ models: { default: 'ultraface', variant: 'rfb-320' } });
    expect(both.applied.sort()).toEqual(['models.default', 'models.variant']);
    expect(switched).toEqual([{ model: 'ultraface', variant: 'rfb-320' }]); // one switch for both keys
  });
});
