import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  applyEnvOverrides,
  configJsonSchemaText,
  loadConfig,
  parseConfig,
} from '../../../src/config/index.js';
import { configReferenceMarkdown } from '../../../src/config/reference.js';
import { ConfigError } from '../../../src/errors.js';
import { REPO } from '../../helpers/paths.js';

function problemsOf(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected the config to be rejected');
}

describe('config schema', () => {
  it('loads the bundled agent.config.json with paths resolved against its folder', () => {
    const { config, file } = loadConfig({ file: path.join(REPO, 'agent.config.json'), env: {} });
    expect(file).toBe(path.join(REPO, 'agent.config.json'));
    expect(config.models.default).toBe('yolox-nano');
    expect(config.models.dir).toBe(path.join(REPO, 'models'));
    expect(config.dataDir).toBe(path.join(REPO, 'data'));
    expect(config.camera.source).toBe(`images:${path.join(REPO, 'samples')}`);
    expect(config.mqtt.url).toBe('embedded');
  });

  it('fills defaults for an empty object', () => {
    const config = parseConfig({});
    expect(config.camera.fps).toBeGreaterThan(0);
    expect(config.http.host).toBe('127.0.0.1');
    expect(config.policy.objective).toBe('max-accuracy');
    expect(config.telemetry.intervalS).toBeGreaterThan(0);
  });

  it.each([
    [{ camera: { fps: 'fast' } }, 'camera.fps: expected number > 0 and <= 240, got "fast"'],
    [{ camera: { fps: 0 } }, 'camera.fps: expected number > 0 and <= 240, got 0'],
    [{ http: { port: 70000 } }, 'http.port: expected integer >= 0 and <= 65535, got 70000'],
    [
      { policy: { objective: 'fastest' } },
      'policy.objective: expected one of "max-accuracy", "min-latency", "min-energy", "battery-life", got "fastest"',
    ],
    [
      { mqtt: { url: 'localhost' } },
      'mqtt.url: expected "embedded" or a broker URL (mqtt://, mqtts://, ws://, wss://), got "localhost"',
    ],
    [
      { deviceId: 'cam/1' },
      'deviceId: expected letters, digits, "_" or "-" (1-64), usable as an MQTT topic segment, got "cam/1"',
    ],
    [{ inference: { threads: 1.5 } }, 'inference.threads: expected integer >= 0 and <= 256, got 1.5'],
    [
      { inference: { executionProviders: ['tpu'] } },
      'inference.executionProviders[0]: expected one of "cpu", "cuda", "tensorrt", "webgpu", got "tpu"',
    ],
    [{ camera: { sourc: 'x' } }, 'camera.sourc: unknown key (did you mean "source"?)'],
    [{ models: 'yolox' }, 'models: expected object, got "yolox"'],
    // The length rule is named, and the bad token is not echoed (answers and logs carry this line).
    [{ http: { token: 'short' } }, 'http.token: expected string of at least 16 characters, got [redacted]'],
    [
      { deviceId: '' },
      'deviceId: expected letters, digits, "_" or "-" (1-64), usable as an MQTT topic segment, got ""',
    ],
  ])('reports %j as one line with its path', (raw, line) => {
    expect(problemsOf(raw)).toEqual([line]);
  });

  it('reports every bad field at once', () => {
    const problems = problemsOf({ camera: { fps: -1 }, http: { port: 'x' }, telemetry: { intervalS: 0 } });
    expect(problems.map((p) => p.split(':')[0])).toEqual(['camera.fps', 'http.port', 'telemetry.intervalS']);
  });

  it('applies environment overrides before validation', () => {
    const raw = applyEnvOverrides(
      { mqtt: { prefix: 'x' } },
      {
        EDGE_AGENT_DEVICE_ID: 'pi-7',
        EDGE_AGENT_HTTP_PORT: '9090',
        EDGE_AGENT_MQTT_URL: 'mqtt://broker:1883',
        EDGE_AGENT_DATA_DIR: '/var/lib/ea',
      },
    );
    const config = parseConfig(raw);
    expect(config.deviceId).toBe('pi-7');
    expect(config.http.port).toBe(9090);
    expect(config.mqtt).toMatchObject({ url: 'mqtt://broker:1883', prefix: 'x' });
    expect(config.dataDir).toBe('/var/lib/ea');
    expect(() => parseConfig(applyEnvOverrides({}, { EDGE_AGENT_HTTP_PORT: 'eighty' }))).toThrow(
      /http\.port/,
    );
  });

  it('finds the file named by EDGE_AGENT_CONFIG and refuses a missing one', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'ea-config-'));
    const file = path.join(dir, 'c.json');
    writeFileSync(file, JSON.stringify({ camera: { fps: 5 }, dataDir: 'state' }));
    const { config } = loadConfig({ env: { EDGE_AGENT_CONFIG: file }, cwd: '/' });
    expect(config.camera.fps).toBe(5);
    expect(config.dataDir).toBe(path.join(dir, 'state'));
    expect(() => loadConfig({ env: { EDGE_AGENT_CONFIG: path.join(dir, 'nope.json') } })).toThrow(
      /config file not found/,
    );
    writeFileSync(file, '{ "camera": ');
    expect(() => loadConfig({ file })).toThrow(/not valid JSON/);
  });
});

describe('agent.config.schema.json', () => {
  it('is in sync with the zod schema (run `npm run gen:schema` after changing it)', () => {
    const committed = readFileSync(path.join(REPO, 'agent.config.schema.json'), 'utf8');
    expect(committed).toBe(configJsonSchemaText());
  });

  it('docs/config.md is in sync too', () => {
    expect(readFileSync(path.join(REPO, 'docs/config.md'), 'utf8')).toBe(configReferenceMarkdown());
  });

  it('is referenced by agent.config.json', () => {
    const config = JSON.parse(readFileSync(path.join(REPO, 'agent.config.json'), 'utf8'));
    expect(config.$schema).toBe('./agent.config.schema.json');
  });
});
