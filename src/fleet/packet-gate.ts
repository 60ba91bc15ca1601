import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';

/**
 * Packet size limit in front of the embedded broker. aedes (1.2) has no maximum packet size: its
 * parser buffers a whole PUBLISH before anything can look at it, so one 50 MB request grew the
 * agent by 200 MB. This gate reads only the MQTT fixed headers of the byte stream (type byte +
 * "remaining length", 1-4 bytes) and cuts the connection as soon as a header announces a packet
 * larger than the limit, before its body is buffered anywhere.
 */
export class MqttFrameScanner {
  /** Bytes of the current packet body still to skip. */
  private skip = 0;
  /** Header parsing state: -1 = expecting the type byte, else number of length bytes read. */
  private lengthBytes = -1;
  private length = 0;
  private multiplier = 1;

  constructor(private readonly maxPacketBytes: number) {}

  /**
   * Feeds bytes; returns the announced size of the first packet over the limit, or undefined
   * when everything seen so far is within it. Malformed lengths (more than 4 bytes) count as over.
   */
  feed(chunk: Uint8Array): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.lengthBytes === -1) {
        this.lengthBytes = 0;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes++;
      if (byte & 0x80) {
        if (this.lengthBytes >= 4) return Number.POSITIVE_INFINITY;
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      if (total > this.maxPacketBytes) return total;
      this.skip = this.length;
      this.lengthBytes = -1;
    }
    return undefined;
  }
}

/**
 * A socket seen through the scanner: what aedes reads and writes. An oversized packet destroys
 * the socket (the client sees the connection close, as with Mosquitto's message_size_limit).
 */
export class PacketSizeGate extends Duplex {
  private readonly scanner: MqttFrameScanner;

  constructor(
    private readonly socket: Socket,
    maxPacketBytes: number,
    onOversize: (bytes: number) => void,
  ) {
    super({ allowHalfOpen: false });
    this.scanner = new MqttFrameScanner(maxPacketBytes);
    socket.on('data', (chunk: Buffer) => {
      const over = this.scanner.feed(chunk);
      if (over !== undefined) {
        onOversize(over);
        socket.destroy();
        return;
      }
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.socket.write(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(err);
  }
}
