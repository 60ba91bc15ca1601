import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentProcess } from '../../helpers/agent-process.js';
import { Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { MODELS } from '../../helpers/paths.js';
import { Observer, request, waitUntil } from './support.js';

/**
 * The agent's own MQTT client on an external MQTT 3.1.1 broker (no Maximum Packet Size in 3.1.1):
 * a peer publishes a 64 MB request to the agent's request topic and Mosquitto (whose default
 * message_size_limit takes up to 256 MB) forwards it. The client reads the announced length from
 * the fixed header, cuts the connection before buffering the body, reconnects with a clean session
 * (so the queued QoS 1 message is not delivered again), and keeps serving.
 */
const P = 'edge-agent';
const ID = 'big-1';
const HUGE_BYTES = 64 * 1024 * 1024;

describe.runIf(requireMosquitto())(
  'an oversized packet from the broker (MQTT 3.1.1)',
  { timeout: 120_000 },
  () => {
    let broker: Mosquitto;
    let agent: AgentProcess;
    let operator: Observer;

    beforeAll(async () => {
      broker = await Mosquitto.start();
      agent = AgentProcess.start({
        deviceId: ID,
        models: { dir: MODELS, default: 'squeezenet1.1' },
        mqtt: { url: broker.url, protocol: '3.1.1', reconnect: { minDelayS: 0.2, maxDelayS: 1 } },
      });
      await agent.waitFor((l) => l.msg === 'mqtt connected', 60_000);
      // Warm: the model loaded and inferring, so the memory peak below compares like with like.
      await waitUntil(
        () => agent.lines.filter((l) => l.msg === 'inference').length >= 2,
        60_000,
        () => agent.log(),
      );
      operator = await Observer.connect(broker.url, { protocolVersion: 4 }, [`${P}/${ID}/response/#`]);
    }, 120_000);

    afterAll(async () => {
      await operator?.close();
      if (agent && !agent.exit) await agent.terminate();
      await broker?.stop();
    });

    it('is refused from its header: the connection is cut, memory does not grow by the payload, the agent keeps serving', async () => {
      expect((await request(operator, P, ID, 'ping')).status).toBe('ok');
      const peakBefore = agent.memoryMB().peak;
      const connectsBefore = agent.lines.filter((l) => l.msg === 'mqtt connected').length;
      const body = `{"transaction":"huge","pad":"${'x'.repeat(HUGE_BYTES)}"}`;
      await operator.client.publishAsync(`${P}/${ID}/request/ping`, body, { qos: 1 });

      const refused = await agent.waitFor(
        (l) => String(l.msg).startsWith('incoming MQTT packet over the limit'),
        60_000,
      );
      expect(refused.bytes).toBeGreaterThan(HUGE_BYTES);
      // commands.maxPayloadBytes (64 KiB) x 4 + 64 KiB: the same figure MQTT 5 announces.
      expect(refused.limit).toBe(65_536 * 4 + 65_536);
      await waitUntil(
        () => agent.lines.filter((l) => l.msg === 'mqtt connected').length > connectsBefore,
        60_000,
        () => agent.log(),
      );
      // Serving again, and the oversized request is never answered (nor redelivered and cut again).
      const pong = await request(operator, P, ID, 'ping', {}, 15_000);
      expect(pong.status).toBe('ok');
      expect(operator.json(`${P}/${ID}/response/ping`).some((r) => r.transaction === 'huge')).toBe(false);
      expect(
        agent.lines.filter((l) => String(l.msg).startsWith('incoming MQTT packet over the limit')),
      ).toHaveLength(1);
      // Buffering it would have taken at least its 64 MB (before the fix: +97 MB peak for 48 MB).
      expect(agent.memoryMB().peak - peakBefore).toBeLessThan(40);
      expect(agent.exit).toBeUndefined();
    });
  },
);
