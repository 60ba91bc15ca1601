import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runStopSteps } from '../../../src/agent/stop-steps.js';
import { CREDENTIALS_FILE, resolveBrokerCredentials } from '../../../src/fleet/broker-auth.js';
import { BrokerStartError, checkCredentials } from '../../../src/fleet/embedded-broker.js';
import { MqttFrameScanner } from '../../../src/fleet/packet-gate.js';
import { silentLogger } from '../../../src/log.js';
import { varByteInt } from '../../helpers/mqtt-bytes.js';

const log = silentLogger();

describe('embedded broker credentials', () => {
  it('none needed on loopback; config pair used anywhere; one of the two alone is refused', () => {
    expect(resolveBrokerCredentials({ host: '127.0.0.1', log })).toBeUndefined();
    expect(
      resolveBrokerCredentials({ host: '0.0.0.0', username: 'ha', password: 'pw-1234567890', log }),
    ).toEqual({
      username: 'ha',
      password: 'pw-1234567890',
      origin: 'config',
    });
    expect(() => resolveBrokerCredentials({ host: '0.0.0.0', username: 'ha', log })).toThrow(
      BrokerStartError,
    );
    expect(() => resolveBrokerCredentials({ host: '0.0.0.0', log })).toThrow(/refuses to listen on 0.0.0.0/);
  });

  it('generates a pair beyond loopback, stores it 0600, re-uses it, and tightens a loose mode', () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ea-broker-auth-'));
    const first = resolveBrokerCredentials({ host: '0.0.0.0', dataDir, log })!;
    expect(first.origin).toBe('generated');
    const file = path.join(dataDir, CREDENTIALS_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({
      username: first.username,
      password: first.password,
    });
    chmodSync(file, 0o644);
    const again = resolveBrokerCredentials({ host: '192.168.1.2', dataDir, log })!;
    expect(again).toMatchObject({ origin: 'stored', password: first.password });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses to start when the pair cannot be stored or the file is corrupt', () => {
    expect(() => resolveBrokerCredentials({ host: '0.0.0.0', dataDir: '/proc/no-such-dir', log })).toThrow(
      /cannot store generated ones/,
    );
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ea-broker-auth-'));
    writeFileSync(path.join(dataDir, CREDENTIALS_FILE), '{"username": 1}');
    expect(() => resolveBrokerCredentials({ host: '0.0.0.0', dataDir, log })).toThrow(
      /not a valid credentials file/,
    );
  });

  it('checks both fields', () => {
    const expected = { username: 'u', password: 'secret-password-1' };
    expect(checkCredentials(expected, 'u', Buffer.from('secret-password-1'))).toBe(true);
    expect(checkCredentials(expected, 'u', Buffer.from('nope'))).toBe(false);
    expect(checkCredentials(expected, 'x', Buffer.from('secret-password-1'))).toBe(false);
    expect(checkCredentials(expected, undefined, undefined)).toBe(false);
  });
});

describe('MQTT frame scanner (packet size gate)', () => {
  const publish = (bodyBytes: number) =>
    Buffer.concat([Buffer.from([0x30, ...varByteInt(bodyBytes)]), Buffer.alloc(bodyBytes, 1)]);

  it('passes packets within the limit, split anywhere, and flags the first one over it from its header', () => {
    const scanner = new MqttFrameScanner(1000);
    const stream = Buffer.concat([publish(10), publish(990), publish(200)]);
    for (let i = 0; i < stream.length; i += 7)
      expect(scanner.feed(stream.subarray(i, i + 7))).toBeUndefined();
    // The header of a 50 MB packet is enough: 5 bytes, nothing of the body needed.
    expect(new MqttFrameScanner(1000).feed(publish(50 * 1024 * 1024).subarray(0, 5))).toBe(
      1 + 4 + 50 * 1024 * 1024,
    );
    expect(new MqttFrameScanner(1000).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff]))).toBe(
      Number.POSITIVE_INFINITY,
    );
  });
});

describe('bounded stop steps', () => {
  it('runs steps in order, goes on past a stuck or failing one', async () => {
    const order: string[] = [];
    const outcomes = await runStopSteps(
      [
        { name: 'a', budgetMs: 100, run: () => void order.push('a') },
        { name: 'stuck', budgetMs: 50, run: () => new Promise(() => order.push('stuck')) },
        {
          name: 'fails',
          budgetMs: 100,
          run: async () => {
            order.push('fails');
            throw new Error('boom');
          },
        },
        { name: 'b', budgetMs: 100, run: () => void order.push('b') },
      ],
      log,
    );
    expect(order).toEqual(['a', 'stuck', 'fails', 'b']);
    expect(outcomes.map((o) => o.outcome)).toEqual(['done', 'timed out', 'failed', 'done']);
  });
});
