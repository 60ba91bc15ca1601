import { createRequire } from 'node:module';

/**
 * mqtt-packet (under both MQTT.js and aedes) pre-generates, on the first packet it writes, a cache
 * of all 65 536 two-byte packet ids as separate Buffers: ~7 MB of V8 heap and 65 536 objects that
 * every full garbage collection marks again, to save a 2-byte allocation per QoS>0 packet. The
 * agent turns it off process-wide before the broker or the client writes anything (docs/memory.md).
 * MQTT.js's own switch is the client option `writeCache: false`; aedes has none, so the flag is set
 * on the copy of mqtt-packet aedes resolves (the same module instance MQTT.js uses when hoisted).
 * The deployed bundle (scripts/bundle.mjs) leaves mqtt-packet out, so its aedes and MQTT.js load
 * that same copy from node_modules.
 */
export function disableMqttNumberCache(): void {
  const require = createRequire(import.meta.url);
  for (const owner of ['aedes', 'mqtt']) {
    try {
      const packet = createRequire(require.resolve(owner))('mqtt-packet') as {
        writeToStream: { cacheNumbers: boolean };
      };
      packet.writeToStream.cacheNumbers = false;
    } catch {
      // not installed the way we expect: the cache only costs memory
    }
  }
}
