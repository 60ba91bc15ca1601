import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { REPO } from '../../helpers/paths.js';

/**
 * deploy/mosquitto/: certificates from its gen-certs.sh, its ACL file, mutual TLS with the
 * certificate CN as username. Device A may not publish as B nor read B's requests.
 */
const hasMosquitto = requireMosquitto();

describe.skipIf(!hasMosquitto)('deploy/mosquitto example: mutual TLS and per-device ACLs', () => {
  let broker: Mosquitto;
  let dir: string;
  const clients: MqttClient[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'ea-acl-'));
    execFileSync(
      'sh',
      [path.join(REPO, 'deploy/mosquitto/gen-certs.sh'), dir, 'localhost', 'cam-a', 'cam-b', 'operator'],
      {
        stdio: 'ignore',
      },
    );
    copyFileSync(path.join(REPO, 'deploy/mosquitto/acl'), path.join(dir, 'acl'));
    // Mosquitto started as root reads the ACL and its key after dropping to its own user (a temp dir).
    chmodSync(dir, 0o755);
    for (const f of ['acl', 'server.key', 'server.crt', 'ca.crt']) chmodSync(path.join(dir, f), 0o644);
    broker = await Mosquitto.start({
      dir,
      tls: {
        ca: path.join(dir, 'ca.crt'),
        cert: path.join(dir, 'server.crt'),
        key: path.join(dir, 'server.key'),
        requireCertificate: true,
      },
      extra: ['use_identity_as_username true', `acl_file ${path.join(dir, 'acl')}`],
    });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)));
    await broker?.stop();
  });

  async function as(name: string, clientId = name): Promise<MqttClient> {
    const client = await mqtt.connectAsync(`mqtts://localhost:${broker.port}`, {
      ca: readFileSync(path.join(dir, 'ca.crt')),
      cert: readFileSync(path.join(dir, `${name}.crt`)),
      key: readFileSync(path.join(dir, `${name}.key`)),
      clientId,
      reconnectPeriod: 0,
      protocolVersion: 4,
    });
    clients.push(client);
    return client;
  }

  function collect(client: MqttClient): string[] {
    const got: string[] = [];
    client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    return got;
  }

  it('a client without a certificate cannot connect', async () => {
    const err = await mqtt
      .connectAsync(`mqtts://localhost:${broker.port}`, {
        ca: readFileSync(path.join(dir, 'ca.crt')),
        reconnectPeriod: 0,
        connectTimeout: 5000,
      })
      .then(
        (c) => {
          clients.push(c);
          return undefined;
        },
        (e: Error) => e,
      );
    expect(err).toBeInstanceOf(Error);
  });

  it('device A reads its own requests but not B’s; A cannot publish as B; A’s own messages go through', async () => {
    const a = await as('cam-a');
    const b = await as('cam-b');
    const op = await as('operator');
    const gotA = collect(a);
    const gotB = collect(b);
    const gotOp = collect(op);
    await a.subscribeAsync(['edge-agent/cam-a/request/#', 'edge-agent/cam-b/request/#'], { qos: 1 });
    await b.subscribeAsync('edge-agent/cam-b/request/#', { qos: 1 });
    await op.subscribeAsync('edge-agent/+/response/#', { qos: 1 });

    await op.publishAsync('edge-agent/cam-a/request/ping', 'for-a', { qos: 1 });
    await op.publishAsync('edge-agent/cam-b/request/set-config', 'for-b', { qos: 1 });
    // A answers as itself (the positive control), then, on a second connection with its own
    // certificate, forges B's answer and commands B (QoS 0: the broker may drop the connection
    // on a denied publish instead of acknowledging it).
    await a.publishAsync('edge-agent/cam-a/response/ping', 'a-answers', { qos: 1 });
    const forger = await as('cam-a', 'cam-a-forger');
    forger.on('error', () => undefined);
    forger.publish('edge-agent/cam-b/response/set-config', 'forged-by-a', { qos: 0 });
    forger.publish('edge-agent/cam-b/request/restart', 'a-commands-b', { qos: 0 });
    await delay(700);

    expect(gotA).toEqual(['edge-agent/cam-a/request/ping for-a']);
    expect(gotB).toEqual(['edge-agent/cam-b/request/set-config for-b']);
    expect(gotOp).toEqual(['edge-agent/cam-a/response/ping a-answers']);
  });
});
