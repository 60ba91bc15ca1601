import type { Duplex } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { brokerConnectOptions } from './broker-url.js';
import { MqttFrameScanner } from './packet-gate.js';

/**
 * A maximum incoming packet size on the agent's own MQTT client. MQTT 5 can ask the broker not to
 * send bigger packets (Maximum Packet Size), but MQTT 3.1.1 has no such field, and a hostile or
 * misconfigured broker may ignore it: MQTT.js (5.x) then buffers whatever arrives — a 64 MB
 * request becomes 64 MB and more in the agent before any handler can refuse it. This reads only the
 * fixed headers of the incoming byte stream (packet-gate.ts's scanner) and destroys the connection
 * as soon as one announces a packet over the limit, before its body is buffered.
 */
export class IncomingPacketTooLargeError extends Error {
  override name = 'IncomingPacketTooLargeError';
  readonly code = 'ERR_MQTT_PACKET_TOO_LARGE';
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `the broker sent a packet of ${Number.isFinite(bytes) ? bytes : 'malformed length'} bytes, over the ${limit}-byte limit; connection closed`,
    );
  }
}

/** Wraps the client's stream builder so every connection it makes is scanned. */
export function limitIncomingPackets(
  client: MqttClient,
  maxPacketBytes: number,
  onOversize: (err: IncomingPacketTooLargeError) => void,
): void {
  // MQTT.js keeps the builder on the instance and calls it on every (re)connect.
  const holder = client as unknown as { streamBuilder: (c: MqttClient) => Duplex };
  const build = holder.streamBuilder;
  holder.streamBuilder = (c) => {
    const stream = build(c);
    const scanner = new MqttFrameScanner(maxPacketBytes);
    // Registered before MQTT.js pipes the stream into its parser, so this sees each chunk first.
    stream.on('data', (chunk: Buffer) => {
      const over = scanner.feed(chunk);
      if (over === undefined || stream.destroyed) return;
      const err = new IncomingPacketTooLargeError(over, maxPacketBytes);
      onOversize(err);
      stream.destroy(err);
    });
    return stream;
  };
}

/** `mqtt.connect` with `limitIncomingPackets` applied before the first connection starts. */
export function connectWithPacketLimit(
  maxPacketBytes: number,
  onOversize: (err: IncomingPacketTooLargeError) => void,
): (url: string, options: IClientOptions) => MqttClient {
  return (url, options) => {
    const client = mqtt.connect(brokerConnectOptions(url, { ...options, manualConnect: true }));
    limitIncomingPackets(client, maxPacketBytes, onOversize);
    client.connect();
    return client;
  };
}
