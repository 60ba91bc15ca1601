import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CommandRouter, defineCommand } from '../../../src/fleet/router.js';
import { silentLogger } from '../../../src/log.js';
import { openDatabase } from '../../../src/store/database.js';
import { CommandAudit } from '../../../src/store/records.js';
import { CommandAuthorizer } from '../../../src/trust/authorizer.js';
import { trustSchemas } from '../../../src/trust/config.js';
import { generateKeys, parsePrivateKey, signPayload } from '../../../src/trust/keys.js';
import { ReplayStore } from '../../../src/trust/replay.js';
import { signCommand } from '../../../src/trust/sign-command.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const ops = generateKeys();
const dashboard = generateKeys();
const stranger = generateKeys();

function device(options: { require?: boolean; deviceId?: string } = {}) {
  const clock = new FakeClock();
  const db = openDatabase({ file: ':memory:' });
  const audit = new CommandAudit(db, clock);
  const ran: string[] = [];
  const config = trustSchemas().trustSchema.parse({
    requireSignedCommands: options.require ?? true,
    clockSkewS: 60,
    keys: [
      { name: 'ops', key: ops.publicBase64 },
      { name: 'dashboard', key: dashboard.publicPem, allow: ['get-status'] },
    ],
  });
  const replay = new ReplayStore(db);
  const authorizer = new CommandAuthorizer({
    config,
    deviceId: options.deviceId ?? 'cam-1',
    clock,
    log: silentLogger(),
    replay,
  });
  const router = new CommandRouter({
    deviceId: options.deviceId ?? 'cam-1',
    clock,
    log: silentLogger(),
    audit,
    maxPayloadBytes: 65_536,
    authorize: (command, params) => authorizer.authorize(command, params),
    table: {
      'get-status': defineCommand({
        summary: 's',
        params: z.strictObject({}),
        mutates: false,
        cost: 'light',
        run: () => {
          ran.push('get-status');
          return { ok: true };
        },
      }),
      'set-fps': defineCommand({
        summary: 'f',
        params: z.strictObject({ fps: z.number() }),
        mutates: true,
        run: ({ fps }) => {
          ran.push(`set-fps ${fps}`);
          return { fps };
        },
      }),
    },
  });
  const send = (command: string, body: unknown) =>
    router.handle({
      topic: `edge-agent/cam-1/request/${command}`,
      scope: { kind: 'device' },
      command,
      payload: Buffer.from(JSON.stringify(body)),
    });
  return { clock, db, audit, ran, send, replay };
}

function signed(
  pem: string,
  command: string,
  params: Record<string, unknown>,
  over: Partial<Parameters<typeof signCommand>[0]> = {},
) {
  return {
    transaction: 't',
    signed: signCommand(
      { command, params, target: 'cam-1', nowMs: 1_700_000_000_000, lifetimeS: 300, ...over },
      pem,
    ),
  };
}

describe('signed commands', () => {
  it('refuses an unsigned command when signatures are required, with an audit row', async () => {
    const d = device();
    const r = await d.send('set-fps', { fps: 3 });
    expect(r.status).toBe('error');
    expect(r.error).toMatch(/unsigned command refused/);
    expect(d.ran).toEqual([]);
    expect(d.audit.list()[0]).toMatchObject({ command: 'set-fps', status: 'error' });
  });

  it('runs unsigned commands when not required, and still verifies a signed one', async () => {
    const d = device({ require: false });
    expect((await d.send('set-fps', { fps: 3 })).status).toBe('ok');
    const forged = signed(stranger.privatePem, 'set-fps', { fps: 9 });
    const r = await d.send('set-fps', forged);
    expect(r.error).toMatch(/unknown signing key/);
    expect(d.ran).toEqual(['set-fps 3']);
  });

  it('runs a valid signed command once; the same envelope again is a replay', async () => {
    const d = device();
    const body = signed(ops.privatePem, 'set-fps', { fps: 5 });
    const first = await d.send('set-fps', body);
    expect(first).toMatchObject({ status: 'ok', data: { fps: 5 }, transaction: 't' });
    const second = await d.send('set-fps', body);
    expect(second.status).toBe('error');
    expect(second.error).toMatch(/already received \(replay\)/);
    expect(d.ran).toEqual(['set-fps 5']);
    const rows = d.audit.list();
    expect(rows[1]).toMatchObject({ status: 'ok', scope: 'device signed:ops' });
    expect(rows[0]).toMatchObject({ status: 'error' });
    expect(d.replay.count()).toBe(1);
  });

  it('forgets seen ids once their envelopes have expired (bounded store)', async () => {
    const d = device();
    await d.send('set-fps', signed(ops.privatePem, 'set-fps', { fps: 5 }));
    await d.clock.advance(3600_000);
    const fresh = signed(ops.privatePem, 'set-fps', { fps: 6 }, { nowMs: d.clock.now() });
    expect((await d.send('set-fps', fresh)).status).toBe('ok');
    expect(d.replay.count()).toBe(1);
  });

  const refusals: Array<[string, () => unknown, string, RegExp]> = [
    [
      'expired',
      () => signed(ops.privatePem, 'set-fps', { fps: 1 }, { nowMs: 1_700_000_000_000 - 600_000 }),
      'set-fps',
      /expired at/,
    ],
    [
      'future beyond skew',
      () => signed(ops.privatePem, 'set-fps', { fps: 1 }, { nowMs: 1_700_000_000_000 + 120_000 }),
      'set-fps',
      /issued in the future/,
    ],
    [
      'other target',
      () => signed(ops.privatePem, 'set-fps', { fps: 1 }, { target: 'cam-2' }),
      'set-fps',
      /not addressed to cam-1/,
    ],
    [
      'other target list',
      () => signed(ops.privatePem, 'set-fps', { fps: 1 }, { target: ['cam-2', 'cam-3'] }),
      'set-fps',
      /not addressed/,
    ],
    [
      'command not allowed for the key',
      () => signed(dashboard.privatePem, 'set-fps', { fps: 1 }),
      'set-fps',
      /may not sign "set-fps"/,
    ],
    [
      'signed for another command',
      () => signed(ops.privatePem, 'get-status', {}),
      'set-fps',
      /signed for command "get-status"/,
    ],
    [
      'lifetime too long',
      () => signed(ops.privatePem, 'set-fps', { fps: 1 }, { lifetimeS: 8 * 86_400 }),
      'set-fps',
      /exceeds trust.maxCommandLifetimeS/,
    ],
    [
      'unknown key',
      () => signed(stranger.privatePem, 'set-fps', { fps: 1 }),
      'set-fps',
      /unknown signing key/,
    ],
    [
      'tampered params',
      () => {
        const b = signed(ops.privatePem, 'set-fps', { fps: 1 });
        b.signed.payload = b.signed.payload.replace('"fps":1', '"fps":60');
        return b;
      },
      'set-fps',
      /bad signature/,
    ],
    [
      'params outside the envelope',
      () => ({ ...signed(ops.privatePem, 'set-fps', { fps: 1 }), fps: 60 }),
      'set-fps',
      /inside the envelope/,
    ],
    [
      'a signed manifest used as a command',
      () => ({
        signed: signPayload(
          'deploy-manifest',
          JSON.parse(JSON.stringify(signed(ops.privatePem, 'set-fps', { fps: 1 }).signed)).payload,
          parsePrivateKey(ops.privatePem),
        ),
      }),
      'set-fps',
      /bad signature/,
    ],
  ];
  for (const [name, body, command, error] of refusals) {
    it(`refuses: ${name}, with an error response and an audit row`, async () => {
      const d = device();
      const r = await d.send(command, body());
      expect(r.status).toBe('error');
      expect(r.error).toMatch(error);
      expect(d.ran).toEqual([]);
      const row = d.audit.list()[0]!;
      expect(row).toMatchObject({ command, status: 'error' });
      expect(row.error).toMatch(error);
    });
  }

  it('a dashboard key may sign what its allowlist names', async () => {
    const d = device();
    const r = await d.send('get-status', signed(dashboard.privatePem, 'get-status', {}));
    expect(r.status).toBe('ok');
  });

  it('a broadcast "*" envelope is accepted by any device trusting the key', async () => {
    const d = device({ deviceId: 'cam-9' });
    const r = await d.send('get-status', signed(ops.privatePem, 'get-status', {}, { target: '*' }));
    expect(r.status).toBe('ok');
  });

  it('a key that is not Ed25519 in trust.keys is ignored with a logged problem, not a crash', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const config = trustSchemas().trustSchema.parse({
      keys: [{ name: 'rsa', key: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
    });
    const a = new CommandAuthorizer({
      config,
      deviceId: 'x',
      clock: new FakeClock(),
      log: silentLogger(),
      replay: new ReplayStore(openDatabase({ file: ':memory:' })),
    });
    expect(a.keys.size).toBe(0);
  });
});
