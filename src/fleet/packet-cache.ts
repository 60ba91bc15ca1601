import { createRequire } from 'node:module';

/** mqtt-packet's `writeToStream` (its `generate`), with the switch for its packet-id cache. */
export type PacketWriter = ((packet: unknown, stream: unknown, opts?: unknown) => boolean) & {
  cacheNumbers: boolean;
};

const UNPOOLED = Symbol.for('edge-agent.mqtt-packet.unpooled');
let tamed = false;

/**
 * Two caches in mqtt-packet (under both MQTT.js and aedes) cost the agent memory, and the agent
 * tames both process-wide before the broker or the client writes anything (docs/memory.md):
 *
 * - On the first packet it writes, it pre-generates all 65 536 two-byte packet ids as separate
 *   Buffers: ~7 MB of V8 heap and 65 536 objects that every full collection marks again, to save a
 *   2-byte allocation per QoS>0 packet. Turned off (`cacheNumbers = false`); MQTT.js's own switch is
 *   the client option `writeCache: false`, aedes has none.
 * - It keeps, for ever, the encoded remaining length of every packet size below 16 384 it has
 *   written, as a 1–4 byte slice of Node's shared Buffer pool — which keeps the whole pool chunk it
 *   was cut from alive: 64 KiB on Node 24 (8 KiB before). Telemetry of varying length adds a size
 *   every few minutes, so the agent's memory rose by a pool chunk at a time for as long as new sizes
 *   came (an agent ran 52 such sizes pinning 2 chunks at minute 2, 90 pinning 6 at minute 30). The
 *   writer is wrapped so that Node's pool is off while it runs: what it caches owns its few bytes.
 *
 * The flag and the wrapper are set on the copy of mqtt-packet each of aedes and MQTT.js resolves
 * (one module instance when hoisted). The deployed bundle (scripts/bundle.mjs) leaves mqtt-packet
 * out, so its aedes and MQTT.js load that same copy from node_modules. Once per process.
 */
export function tameMqttPacket(): void {
  if (tamed) return;
  tamed = true;
  const require = createRequire(import.meta.url);
  for (const owner of ['aedes', 'mqtt']) {
    try {
      const packet = createRequire(require.resolve(owner))('mqtt-packet') as { writeToStream: PacketWriter };
      packet.writeToStream.cacheNumbers = false;
      packet.writeToStream = unpooledWriter(packet.writeToStream);
    } catch {
      // not installed the way we expect: the caches only cost memory
    }
  }
}

/**
 * `write` with Node's Buffer pool off for the length of each call (`Buffer.poolSize` is read at
 * every small allocation; 0 sends each to its own ArrayBuffer), its `cacheNumbers` switch passed
 * through. Idempotent. The few Buffers a packet needs are allocated singly — a cost far below a
 * socket write at the agent's rate of MQTT messages. Only while the packet-id cache is off (as
 * tameMqttPacket leaves it): that cache made without the pool would be 65 536 ArrayBuffers.
 */
export function unpooledWriter(write: PacketWriter): PacketWriter {
  if ((write as unknown as Record<symbol, unknown>)[UNPOOLED]) return write;
  const wrapped = function writeToStream(packet: unknown, stream: unknown, opts?: unknown): boolean {
    // With the packet-id cache on, its 65 536 Buffers are made on the first call: from the pool.
    if (write.cacheNumbers) return write(packet, stream, opts);
    const poolSize = Buffer.poolSize;
    Buffer.poolSize = 0;
    try {
      return write(packet, stream, opts);
    } finally {
      Buffer.poolSize = poolSize;
    }
  } as PacketWriter;
  Object.defineProperty(wrapped, 'cacheNumbers', {
    get: () => write.cacheNumbers,
    set: (value: boolean) => {
      write.cacheNumbers = value;
    },
    enumerable: true,
  });
  Object.defineProperty(wrapped, UNPOOLED, { value: true });
  return wrapped;
}
