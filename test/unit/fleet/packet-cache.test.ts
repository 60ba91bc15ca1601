import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type PacketWriter, tameMqttPacket, unpooledWriter } from '../../../src/fleet/packet-cache.js';
import { varByteInt } from '../../helpers/mqtt-bytes.js';

// The real mqtt-packet, as MQTT.js and aedes resolve it.
const require = createRequire(import.meta.url);
const packetOf = (owner: string) =>
  createRequire(require.resolve(owner))('mqtt-packet') as { writeToStream: PacketWriter };
// The module file itself: mqtt-packet's own writer, never wrapped.
const ownWriter = createRequire(require.resolve('mqtt'))('mqtt-packet/writeToStream.js') as PacketWriter;

/** Writes a QoS 0 publish whose remaining length is `length`; resolves to what reached the stream. */
async function publishOfLength(write: PacketWriter, length: number): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  const topic = 't/x';
  const payload = Buffer.alloc(length - 2 - topic.length, 7);
  expect(write({ cmd: 'publish', topic, payload, qos: 0, dup: false, retain: false }, sink, {})).toBe(true);
  await new Promise((resolve) => setImmediate(resolve)); // the writer corks until the next tick
  return chunks;
}

describe('mqtt-packet tamed', () => {
  it("mqtt-packet's own writer caches each remaining length as a slice of a whole pool chunk", async () => {
    // What the wrapper is for: if this stops being true, the wrapper no longer buys anything.
    const [, length] = await publishOfLength(ownWriter, 15_001);
    expect([...(length ?? [])]).toEqual(varByteInt(15_001));
    expect(length?.buffer.byteLength).toBe(Buffer.poolSize);
  });

  it('the wrapped writer writes the same bytes, and what it caches owns its few bytes', async () => {
    ownWriter.cacheNumbers = false;
    const write = unpooledWriter(ownWriter);
    for (const n of [15_002, 300, 15_002]) {
      const chunks = await publishOfLength(write, n);
      const own = await publishOfLength(ownWriter, n);
      expect(Buffer.concat(chunks)).toEqual(Buffer.concat(own));
      expect([...(chunks[1] ?? [])]).toEqual(varByteInt(n));
      expect(chunks[1]?.buffer.byteLength).toBeLessThanOrEqual(4);
    }
    expect(Buffer.poolSize).toBeGreaterThan(0);
  });

  it("restores Node's pool size even when the writer throws, and passes cacheNumbers through", () => {
    const poolSize = Buffer.poolSize;
    const write = unpooledWriter(ownWriter);
    expect(() => write({ cmd: 'publish', topic: 't', payload: 'x' }, {}, {})).toThrow();
    expect(Buffer.poolSize).toBe(poolSize);
    const before = ownWriter.cacheNumbers;
    write.cacheNumbers = !before;
    expect(ownWriter.cacheNumbers).toBe(!before);
    write.cacheNumbers = before;
    expect(unpooledWriter(write)).toBe(write);
  });

  it('leaves the pool on while the packet-id cache is on (its 65 536 ids come from the pool)', async () => {
    const write = unpooledWriter(ownWriter);
    const before = ownWriter.cacheNumbers;
    ownWriter.cacheNumbers = true;
    try {
      const [, length] = await publishOfLength(write, 15_005);
      expect(length?.buffer.byteLength).toBe(Buffer.poolSize);
    } finally {
      ownWriter.cacheNumbers = before;
    }
  });

  it('tameMqttPacket wraps the writer MQTT.js and aedes call, with the packet-id cache off', async () => {
    tameMqttPacket();
    tameMqttPacket();
    for (const owner of ['mqtt', 'aedes']) {
      const { writeToStream } = packetOf(owner);
      expect(writeToStream).not.toBe(ownWriter);
      expect(writeToStream.cacheNumbers).toBe(false);
      const [, length] = await publishOfLength(writeToStream, owner === 'mqtt' ? 15_003 : 15_004);
      expect(length?.buffer.byteLength).toBeLessThanOrEqual(4);
    }
    expect(unpooledWriter(packetOf('mqtt').writeToStream)).toBe(packetOf('mqtt').writeToStream);
  });
});
