import { createServer, type Server, type Socket } from 'node:net';
import type { Aedes } from 'aedes';
import { EdgeAgentError, errorMessage } from '../errors.js';
import { safeEqual } from '../http/auth.js';
import type { Logger } from '../log.js';
import { tameMqttPacket } from './packet-cache.js';
import { PacketSizeGate } from './packet-gate.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  log: Logger;
  /** Largest MQTT packet accepted, bytes; a client announcing a bigger one is disconnected. */
  maxMessageBytes?: number;
  /** Required of every client when set (see broker-auth.ts); anonymous otherwise (loopback only). */
  credentials?: { username: string; password: string } | undefined;
}

/** Default packet limit: room for a snapshot answer (JPEG in base64), far below a memory risk. */
export const DEFAULT_MAX_PACKET_BYTES = 4 * 1024 * 1024;

/** Raised when the embedded broker cannot listen (the port is taken by another broker, ...). */
export class BrokerStartError extends EdgeAgentError {
  override name = 'BrokerStartError';
}

/**
 * The in-process broker behind `mqtt.url: "embedded"`: aedes (MQTT 3.1.1, in-memory persistence)
 * on a local TCP port, so a single device works with no broker installed. Clients on the same
 * host (the fleet CLI, Home Assistant on the LAN if host is 0.0.0.0) connect to it like to any
 * broker.
 */
export class EmbeddedBroker {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly aedes: Aedes,
    private readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get url(): string {
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${this.port}`;
  }

  static async start(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
    const log = options.log.child({ component: 'embedded-broker' });
    const { credentials } = options;
    tameMqttPacket();
    // Loaded when a broker is started: a device on a fleet's broker never needs aedes (~3 MB of heap).
    const { Aedes } = await import('aedes');
    const aedes = await Aedes.createBroker({
      heartbeatInterval: 60_000,
      drainTimeout: 10_000,
      ...(credentials
        ? {
            authenticate: (client, username, password, done) => {
              if (checkCredentials(credentials, username, password)) return done(null, true);
              log.warn({ clientId: client.id }, 'refused a client with wrong or missing credentials');
              const err = Object.assign(new Error('bad username or password'), { returnCode: 4 as const });
              done(err, false);
            },
          }
        : {}),
    });
    aedes.on('clientError', (client, err) =>
      log.debug({ clientId: client.id, err: err.message }, 'client error'),
    );
    aedes.on('connectionError', (client, err) =>
      log.debug({ clientId: client?.id, err: err.message }, 'connection error'),
    );
    const maxPacketBytes = options.maxMessageBytes ?? DEFAULT_MAX_PACKET_BYTES;
    const server = createServer((socket) => {
      const gate = new PacketSizeGate(socket, maxPacketBytes, (bytes) =>
        log.warn(
          { remote: socket.remoteAddress, bytes, limit: maxPacketBytes },
          'MQTT packet over the size limit: connection closed',
        ),
      );
      aedes.handle(gate);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
      const code = (err as NodeJS.ErrnoException).code;
      const hint =
        code === 'EADDRINUSE'
          ? ': another broker already listens there; set mqtt.url to mqtt://' +
            `${options.host}:${options.port} to use it, or mqtt.embedded.port to another port`
          : '';
      throw new BrokerStartError(
        `embedded MQTT broker cannot listen on ${options.host}:${options.port} (${errorMessage(err)})${hint}`,
        { cause: err },
      );
    }
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    log.info(
      {
        host: options.host,
        port,
        auth: credentials ? 'username/password' : 'none (loopback)',
        maxPacketBytes,
      },
      'embedded MQTT broker listening (MQTT 3.1.1)',
    );
    return new EmbeddedBroker(aedes, server, options.host, port);
  }

  /** Stops accepting, drops the connections and closes the broker. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()));
  }
}

/** The aedes `authenticate` check: both fields compared in constant time, always both. */
export function checkCredentials(
  expected: { username: string; password: string },
  username: string | undefined,
  password: Buffer | undefined,
): boolean {
  if (username === undefined || password === undefined) return false;
  const userOk = safeEqual(username, expected.username);
  const passOk = safeEqual(password.toString('utf8'), expected.password);
  return userOk && passOk;
}
