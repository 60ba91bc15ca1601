import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { configFeature } from '../../../src/features/config.js';
import { deriveFeature } from '../../../src/features/derive.js';
import { deviceFeature } from '../../../src/features/device.js';
import { commandTable } from '../../../src/features/feature.js';
import { modelsFeature } from '../../../src/features/models.js';
import { pacingFeature } from '../../../src/features/pacing.js';
import { snapshotFeature } from '../../../src/features/snapshot.js';
import { CommandRouter, type IncomingRequest } from '../../../src/fleet/router.js';
import { silentLogger } from '../../../src/log.js';
import type { Pacing } from '../../../src/pipeline/pacing.js';
import { openDatabase } from '../../../src/store/database.js';
import { CommandAudit } from '../../../src/store/records.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** Fake device parts that record every state change a command makes. */
function fakeDevice(options: { withOptional?: boolean } = {}) {
  const changes: string[] = [];
  const deferred: Array<() => void> = [];
  const config = parseConfig({ mqtt: { password: 'hunter2' } });
  const catalog = { models: () => [{ manifest: { name: 'yolox-nano' }, variants: [] }] } as never;
  const profile = () => ({ board: 'test' });
  const features = [
    deviceFeature({
      status: () => ({ uptimeS: 1 }),
      restart: (reason) => changes.push(`restart ${reason}`),
      ...(options.withOptional ? { profile } : {}),
    }),
    configFeature({
      store: {
        effective: () => config,
        set: async (patch) => {
          changes.push(`config ${JSON.stringify(patch)}`);
          return {
            file: 'f',
            changed: ['camera.fps'],
            applied: [],
            restartRequired: ['camera.fps'],
            shadowedByEnv: [],
            failed: [],
          };
        },
      },
    }),
    modelsFeature({
      models: {
        catalog,
        active: () => ({ model: 'yolox-nano', variant: 'fp32' }),
        switchTo: async (target) => {
          changes.push(`model ${JSON.stringify(target)}`);
          const from = { model: 'yolox-nano', variant: 'fp32' };
          return { changed: true, from, to: { model: 'yolox-nano', variant: target.variant ?? 'fp32' } };
        },
      },
      decision: () => ({}),
    }),
    pacingFeature({
      config: config.pipeline,
      ...(options.withOptional
        ? {
            pipeline: {
              setPacing: (p: Pacing) => void changes.push(`fps ${p.mode === 'continuous' ? p.fps : p.mode}`),
              stats: () => ({ pacing: {} }),
            },
          }
        : {}),
    }),
    deriveFeature({
      ...(options.withOptional
        ? {
            derive: async (req: { method: string }, progress: (d: Record<string, unknown>) => void) => {
              progress({ percent: 50 });
              changes.push(`derive ${req.method}`);
              return { variant: 'int8-derived' };
            },
          }
        : {}),
    }),
    snapshotFeature({
      ...(options.withOptional
        ? {
            camera: {
              snapshot: async () => ({ jpeg: Buffer.from([0xff, 0xd8, 0xff]), width: 2, height: 1 }),
            },
          }
        : {}),
    }),
  ];
  const db = openDatabase({ file: ':memory:' });
  const audit = new CommandAudit(db, new FakeClock());
  const progress: unknown[] = [];
  const router = new CommandRouter({
    deviceId: 'cam-1',
    table: commandTable(features),
    clock: new FakeClock(),
    log: silentLogger(),
    audit,
    maxPayloadBytes: 4096,
    progress: (command, transaction, data) => progress.push({ command, transaction, ...data }),
    afterResponse: (fn) => deferred.push(fn),
  });
  const send = (command: string, payload: string | Buffer, group?: string) =>
    router.handle({
      topic: `edge-agent/cam-1/request/${command}`,
      scope: group ? { kind: 'group', group } : { kind: 'device' },
      command,
      payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    } satisfies IncomingRequest);
  return { router, send, changes, deferred, audit, progress };
}

describe('CommandRouter', () => {
  it('answers ping with the transaction echoed and audits it', async () => {
    const { send, audit } = fakeDevice();
    const r = await send('ping', '{"transaction": "t-1"}');
    expect(r).toMatchObject({
      status: 'ok',
      device: 'cam-1',
      command: 'ping',
      transaction: 't-1',
      data: { pong: true },
    });
    expect(audit.list()[0]).toMatchObject({
      command: 'ping',
      status: 'ok',
      transaction: 't-1',
      scope: 'device',
    });
    expect((await send('ping', '')).status).toBe('ok');
    expect((await send('ping', '{"transaction": 7}')).transaction).toBe('7');
  });

  it.each([
    ['nope', '{}', /unknown command "nope" \(available: derive, get-config/],
    ['ping', 'not json', /not valid JSON/],
    ['ping', '[1,2]', /must be a JSON object/],
    ['ping', '{"extra": 1}', /unknown parameter "extra"/],
    ['set-fps', '{"fps": "fast"}', /fps: Invalid input: expected number/],
    ['set-fps', '{"fps": -1}', /fps: Too small/],
    ['set-model', '{}', /give "variant", "model" or both/],
    ['set-config', '{"patch": [1]}', /patch: Invalid input/],
    ['ping', '{"transaction": {"a": 1}}', /transaction: expected a string/],
    ['ping', 'x'.repeat(5000), /payload too large: 5000 bytes \(limit 4096\)/],
  ])('refuses %s %s', async (command, payload, error) => {
    const { send, changes, audit } = fakeDevice();
    const r = await send(command, payload);
    expect(r.status).toBe('error');
    expect(r.error).toMatch(error);
    expect(changes).toEqual([]);
    expect(audit.list()[0]).toMatchObject({ command, status: 'error' });
  });

  it('says clearly when an optional part is absent from the build', async () => {
    const { send } = fakeDevice();
    expect((await send('get-profile', '{}')).error).toBe(
      'get-profile (hardware profiler) is not available in this build',
    );
    expect((await send('derive', '{"method": "int8-dynamic"}')).error).toMatch(/derive .* not available/);
    expect((await send('snapshot', '{}')).error).toMatch(/snapshot .* not available/);
    expect((await send('set-fps', '{"fps": 5}')).error).toMatch(/set-fps .* not available/);
  });

  it('runs every command against present parts', async () => {
    const { send, changes, deferred, progress, audit } = fakeDevice({ withOptional: true });
    expect((await send('get-status', '')).data).toEqual({ uptimeS: 1 });
    expect((await send('get-profile', '')).data).toEqual({ board: 'test' });
    const cfg = await send('get-config', '');
    expect((cfg.data as { mqtt: { password: string } }).mqtt.password).toBe('[redacted]');
    expect((await send('list-models', '')).data).toMatchObject({
      active: { variant: 'fp32' },
      models: [{ name: 'yolox-nano' }],
    });
    expect((await send('set-model', '{"variant": "int8"}', 'lab')).data).toMatchObject({ variant: 'int8' });
    expect((await send('set-fps', '{"fps": 5}')).status).toBe('ok');
    const snap = await send('snapshot', '{"quality": 50}');
    expect(snap.data).toMatchObject({ mime: 'image/jpeg', bytes: 3, width: 2, jpegBase64: '/9j/' });
    const d = await send('derive', '{"method": "int8-static", "transaction": "d1"}');
    expect(d.data).toEqual({ variant: 'int8-derived' });
    expect(progress).toEqual([{ command: 'derive', transaction: 'd1', percent: 50 }]);
    // Broker credentials are not changeable over MQTT (issue 12 item 1): forbidden, nothing changed.
    const forbidden = await send('set-config', '{"patch": {"mqtt": {"password": "secret2"}}}');
    expect(forbidden).toMatchObject({ status: 'error', error: expect.stringMatching(/^forbidden: mqtt /) });
    const setCfg = await send('set-config', '{"patch": {"camera": {"fps": 7}}}');
    expect(setCfg.data).toMatchObject({ restartRequired: ['camera.fps'] });
    // The audit keeps no secrets.
    expect(JSON.stringify(audit.list())).not.toContain('secret2');
    const restart = await send('restart', '{"reason": "update"}');
    expect(restart.data).toEqual({ restarting: true });
    expect(changes.some((c) => c.startsWith('restart'))).toBe(false); // only after the response went out
    for (const fn of deferred) fn();
    expect(changes).toEqual([
      'model {"variant":"int8"}',
      'fps 5',
      'derive int8-static',
      'config {"camera":{"fps":7}}',
      'restart update',
    ]);
    expect(audit.list().find((a) => a.command === 'set-model')?.scope).toBe('group:lab');
  });

  it('turns a throwing handler into an error response', async () => {
    const { router } = fakeDevice();
    const broken = new CommandRouter({
      deviceId: 'd',
      table: {
        boom: {
          summary: '',
          params: (await import('zod')).z.strictObject({}),
          mutates: true,
          run: () => {
            throw new Error('kaput');
          },
        },
      },
      clock: new FakeClock(),
      log: silentLogger(),
      maxPayloadBytes: 100,
    });
    expect(
      await broken.handle({
        topic: 't',
        scope: { kind: 'device' },
        command: 'boom',
        payload: Buffer.alloc(0),
      }),
    ).toMatchObject({
      status: 'error',
      error: 'kaput',
    });
    expect(router.commands()).toContain('set-config');
  });
});

describe('command fuzzing (fast-check)', () => {
  const MUTATING = ['set-config', 'set-model', 'set-fps', 'derive', 'restart'];

  function deepJson(depth: number): string {
    return `${'{"a":['.repeat(depth)}1${']}'.repeat(depth)}`;
  }

  it('random bytes, deep JSON, wrong types and oversize payloads: an error answer each, no state change, bounded memory', async () => {
    const device = fakeDevice({ withOptional: true });
    const wrongType = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double(),
      fc.string(),
      fc.array(fc.anything(), { maxLength: 3 }),
      fc.object({ maxDepth: 2 }),
    );
    const payload = fc.oneof(
      // A leading control byte: never whitespace-only (an empty payload is a valid `{}`).
      fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.concat([Buffer.from([1]), b])),
      fc.integer({ min: 100, max: 100_000 }).map((d) => Buffer.from(deepJson(d))),
      fc.integer({ min: 4097, max: 200_000 }).map((n) => Buffer.alloc(n, 0x7b)),
      fc
        .record({
          fps: wrongType,
          patch: wrongType,
          variant: wrongType,
          model: wrongType,
          method: wrongType,
          reason: wrongType,
        })
        .map((o) => Buffer.from(JSON.stringify({ ...o, unexpected: 1 }))),
      fc.string({ maxLength: 200 }).map((s) => Buffer.from(JSON.stringify(s))),
    );
    const command = fc.oneof(fc.constantFrom(...MUTATING), fc.string({ minLength: 1, maxLength: 300 }));
    const heapBefore = process.memoryUsage().heapUsed;
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(command, payload, async (c, p) => {
        cases++;
        const r = await device.send(c, p);
        expect(r.status).toBe('error');
        expect(typeof r.error).toBe('string');
        expect(r.error!.length).toBeLessThan(2000);
      }),
      { numRuns: 1500 },
    );
    expect(device.changes).toEqual([]);
    expect(device.deferred).toEqual([]);
    expect(device.audit.count()).toBe(cases);
    // Nothing accumulates per request: 1500 requests (some 200 kB) leave the heap roughly where it was.
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024);
    // Still answering.
    expect((await device.send('ping', '{}')).status).toBe('ok');
  });
});
