import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blockedAddressReason } from '../../../src/config/source-policy.js';
import { AgentProcess } from '../../helpers/agent-process.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { Observer, request, waitUntil } from './support.js';

/**
 * What an unsigned `set-config` over MQTT may set, against a real agent and a real broker:
 * camera URLs that would make the device reach its own services (loopback), link-local or cloud
 * metadata addresses are refused (SSRF), network cameras elsewhere are accepted; `log.level` may
 * be error/warn/info/debug but not trace, fatal or silent. A refused patch changes nothing.
 */
const P = 'edge-agent';
const ID = 'policy-1';

describe.runIf(requireMosquitto())(
  'remote set-config policy (real agent, Mosquitto)',
  { timeout: 90_000 },
  () => {
    let broker: Mosquitto;
    let agent: AgentProcess;
    let operator: Observer;
    let httpPort: string;

    beforeAll(async () => {
      broker = await Mosquitto.start();
      agent = AgentProcess.start({ deviceId: ID, mqtt: { url: broker.url } });
      httpPort = new URL(await agent.url()).port;
      await agent.waitFor((l) => l.msg === 'mqtt connected', 60_000);
      operator = await Observer.connect(broker.url, {}, [`${P}/${ID}/availability`]);
      await waitUntil(
        () => operator.on(`${P}/${ID}/availability`).at(-1)?.payload.toString() === 'online',
        20_000,
      );
    }, 90_000);

    afterAll(async () => {
      await operator?.close();
      if (agent && !agent.exit) await agent.terminate();
      await broker?.stop();
    });

    const setConfig = (patch: Record<string, unknown>) =>
      request(operator, P, ID, 'set-config', { patch }, 15_000);

    it('refuses camera URLs of this device, link-local and metadata addresses; the file is unchanged', async () => {
      const before = readFileSync(agent.configFile, 'utf8');
      const attempts: Array<[string, RegExp]> = [
        [`http://127.0.0.1:${httpPort}/api/snapshot.jpg`, /host 127\.0\.0\.1 is a loopback address/],
        ['http://localhost:1883/', /host localhost is a name of this device/],
        ['rtsp://[::1]:8554/cam', /host ::1 is a loopback address/],
        ['rtsp://[::ffff:127.0.0.1]/cam', /loopback address \(inside IPv6\)/],
        ['http://2130706433:8080/', /host 127\.0\.0\.1 is a loopback/],
        ['http://0.0.0.0:8080/', /unspecified/],
        ['http://169.254.169.254/latest/meta-data/iam/', /link-local/],
        ['http://metadata.google.internal/computeMetadata/v1/', /metadata/],
        ['http://camera.example\\@127.0.0.1/', /ambiguous URL authority/],
      ];
      for (const [source, why] of attempts) {
        const answer = await setConfig({ camera: { source } });
        expect(answer, source).toMatchObject({ status: 'error' });
        expect(answer.error, source).toMatch(/^forbidden: camera\.source/);
        expect(answer.error, source).toMatch(why);
      }
      // The same inside a replaced camera section.
      const section = await setConfig({ camera: { source: 'rtsp://127.0.0.1/x', fps: 2 } });
      expect(section.error).toMatch(/^forbidden: camera\.source/);
      expect(readFileSync(agent.configFile, 'utf8')).toBe(before);
    });

    it("this device's own host name is refused when it resolves to a refused address (DNS checked)", async () => {
      const name = os.hostname();
      const addresses = await lookup(name, { all: true }).catch(() => []);
      const blocked = addresses.find((a) => blockedAddressReason(a.address));
      const answer = await setConfig({ camera: { source: `rtsp://${name}:8554/cam` } });
      if (blocked) {
        expect(answer).toMatchObject({ status: 'error' });
        expect(answer.error).toMatch(new RegExp(`resolves to ${blocked.address.replace(/\./g, '\\.')}`));
      } else {
        expect(answer.status).toBe('ok');
      }
    });

    it('accepts network cameras on the LAN (credentials redacted in the answer)', async () => {
      const answer = await setConfig({
        camera: { source: 'rtsp://admin:cam-pass-5@192.0.2.10:554/stream1' },
      });
      expect(answer).toMatchObject({ status: 'ok' });
      expect(JSON.stringify(answer)).not.toContain('cam-pass-5');
      expect(readFileSync(agent.configFile, 'utf8')).toContain(
        'rtsp://admin:cam-pass-5@192.0.2.10:554/stream1',
      );
    });

    it('log.level: debug is accepted; trace, fatal and silent are refused', async () => {
      for (const level of ['trace', 'fatal', 'silent']) {
        const answer = await setConfig({ log: { level } });
        expect(answer, level).toMatchObject({ status: 'error' });
        expect(answer.error).toMatch(/^forbidden: log\.level .*remotely only error, warn, info, debug/);
      }
      const debug = await setConfig({ log: { level: 'debug' } });
      expect(debug).toMatchObject({ status: 'ok' });
      expect(JSON.parse(readFileSync(agent.configFile, 'utf8')).log).toEqual({ level: 'debug' });
      expect(agent.exit).toBeUndefined();
    });
  },
);
