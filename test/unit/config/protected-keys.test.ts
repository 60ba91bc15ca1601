import { describe, expect, it } from 'vitest';
import { configJsonSchema, type JsonSchemaNode } from '../../../src/config/json-schema.js';
import {
  assertRemotelyChangeable,
  CHANGEABLE_EXCEPTIONS,
  ForbiddenError,
  forbiddenChanges,
  PROTECTED_KEYS,
} from '../../../src/config/protected-keys.js';

const keys = (patch: Record<string, unknown>) => forbiddenChanges(patch).map((f) => f.key);

/** Every leaf of the config schema: dotted path and description. */
function leaves(node: JsonSchemaNode, prefix = ''): Array<{ path: string; description: string }> {
  const props = node.properties ?? node.anyOf?.find((n) => n.properties)?.properties;
  if (!props) return [{ path: prefix, description: node.description ?? '' }];
  return Object.entries(props).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

const isProtected = (path: string) =>
  !CHANGEABLE_EXCEPTIONS.some((e) => path === e || path.startsWith(`${e}.`)) &&
  PROTECTED_KEYS.some((k) => path === k.path || path.startsWith(`${k.path}.`));

describe('keys that set-config over MQTT may not change', () => {
  it('refuses the take-over patches of issue 12 and names each key', () => {
    expect(keys({ http: { token: 'attacker-token-0123456789' } })).toEqual(['http.token']);
    expect(keys({ http: { host: '0.0.0.0' } })).toEqual(['http.host']);
    expect(keys({ mqtt: { url: 'mqtt://evil.example:1883' } })).toEqual(['mqtt']);
    expect(keys({ dataDir: '/tmp/x' })).toEqual(['dataDir']);
    expect(keys({ models: { dir: '/home' } })).toEqual(['models.dir']);
    expect(keys({ camera: { source: 'images:/home/pi/Pictures' } })).toEqual(['camera.source']);
    expect(keys({ camera: { source: 'file:/etc/passwd' } })).toEqual(['camera.source']);
    expect(keys({ camera: { source: 'v4l2:/dev/sda' } })).toEqual(['camera.source']);
    expect(keys({ mqtt: { tls: { ca: '/tmp/evil-ca.pem' } } })).toEqual(['mqtt']);
    expect(keys({ trust: { publicKeys: ['x'] } })).toEqual(['trust']);
    expect(keys({ hardware: { root: '/' } })).toEqual(['hardware.root']);
  });

  it('log.level: error, warn, info and debug remotely; never trace (every payload), fatal or silent (hide faults)', () => {
    for (const level of ['error', 'warn', 'info', 'debug']) expect(keys({ log: { level } })).toEqual([]);
    for (const level of ['trace', 'fatal', 'silent', 'TRACE', 42])
      expect(keys({ log: { level } })).toEqual(['log.level']);
    expect(keys({ log: { level: null } })).toEqual([]); // back to the default (info)
    expect(keys({ log: { level: 'trace' } }).length).toBe(1);
    expect(forbiddenChanges({ log: { level: 'trace' } })[0]!.reason).toMatch(
      /remotely only error, warn, info, debug/,
    );
    expect(keys({ log: null })).toEqual([]);
  });

  it('refuses deleting or replacing a parent of a protected key', () => {
    expect(keys({ http: null })).toEqual(['http.host', 'http.port', 'http.token', 'http.enabled']);
    expect(keys({ mqtt: null })).toEqual(['mqtt']);
    expect(keys({ http: { token: null } })).toEqual(['http.token']);
    expect(keys({ camera: { source: 'images:/srv', fps: 5 } })).toEqual(['camera.source']);
    // A redirect could send the device to its own services: remotely only "none".
    expect(keys({ camera: { maxRedirects: 3 } })).toEqual(['camera.maxRedirects']);
    expect(keys({ camera: { maxRedirects: 0 } })).toEqual([]);
  });

  it('lets harmless keys through', () => {
    expect(keys({ camera: { fps: 5 } })).toEqual([]);
    expect(keys({ camera: { source: 'rtsp://cam.local/stream' } })).toEqual([]);
    expect(keys({ camera: { source: 'v4l2:/dev/video2' } })).toEqual([]);
    expect(keys({ camera: null })).toEqual([]); // back to the default source
    expect(keys({ mqtt: { results: { maxPerS: 2 } } })).toEqual([]);
    expect(keys({ http: { streamMaxFps: 2 } })).toEqual([]);
    expect(keys({ models: { default: 'squeezenet', variant: 'int8' } })).toEqual([]);
    expect(keys({ telemetry: { intervalS: 5 }, http: {} })).toEqual([]);
  });

  it('throws a ForbiddenError whose message starts with "forbidden" and names the keys', () => {
    expect(() => assertRemotelyChangeable({ http: { token: 'x'.repeat(20) }, camera: { fps: 3 } })).toThrow(
      ForbiddenError,
    );
    expect(() => assertRemotelyChangeable({ dataDir: '/' })).toThrow(
      /^forbidden: dataDir \(a filesystem path\)/,
    );
    expect(() => assertRemotelyChangeable({ camera: { fps: 3 } })).not.toThrow();
  });

  it('protects every schema key that looks like a path, a bind address or a secret (guards future keys)', () => {
    const risky = leaves(configJsonSchema()).filter((l) => {
      const name = l.path.split('.').at(-1) ?? '';
      return (
        l.path !== '$schema' &&
        (/^(dir|root|file|path|host|port|token|password|passphrase|key|cert|ca|secret|url|source|username)$/.test(
          name,
        ) ||
          /(Dir|File|Path|Root|Token|Secret|Key)$/.test(name) ||
          /\b(PEM|bind address|credentials?|password|token)\b/i.test(l.description))
      );
    });
    expect(risky.length).toBeGreaterThan(5);
    const open = risky
      .map((l) => l.path)
      .filter((p) => !isProtected(p))
      // Value-dependent: camera.source is checked per value (files refused, cameras allowed).
      .filter((p) => p !== 'camera.source');
    expect(open).toEqual([]);
  });
});
