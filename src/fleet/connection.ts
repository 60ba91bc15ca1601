import { readFileSync } from 'node:fs';
import mqtt, { type IClientOptions, type IConnackPacket, type IPublishPacket, type MqttClient } from 'mqtt';
import { type Clock, isAbortError } from '../clock.js';
import { redactUrl } from '../config/redact.js';
import { ConfigError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { backoffDelayMs, isAuthRefusal, isProtocolRefusal, TakeoverDetector } from './backoff.js';
import { brokerConnectOptions } from './broker-url.js';
import { connectWithPacketLimit, type IncomingPacketTooLargeError } from './client-packet-limit.js';
import { tameMqttPacket } from './packet-cache.js';

export interface LinkTls {
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  passphrase?: string | undefined;
  rejectUnauthorized: boolean;
  servername?: string | undefined;
}

export interface LinkOptions {
  url: string;
  clientId: string;
  protocol: 'auto' | '5' | '3.1.1';
  username?: string | undefined;
  password?: string | undefined;
  tls?: LinkTls | undefined;
  keepaliveS: number;
  connectTimeoutS: number;
  /** 0 = clean session every time. */
  sessionExpiryS: number;
  reconnect: { minDelayS: number; maxDelayS: number; stableAfterS: number };
  will?: { topic: string; payload: string; qos: 0 | 1; retain: boolean };
  /**
   * Largest packet we accept: sent as MQTT 5 Maximum Packet Size (the broker drops bigger ones),
   * and enforced on every protocol version by cutting the connection (client-packet-limit.ts).
   */
  maximumPacketSize?: number;
}

export type LinkState = 'idle' | 'connecting' | 'online' | 'waiting' | 'stopped';

export interface LinkStatus {
  state: LinkState;
  url: string;
  protocolVersion: 4 | 5;
  connects: number;
  failures: number;
  lastError?: string;
  /** Set while the broker keeps ending sessions as if another client used our id. */
  clientIdConflict?: 'suspected' | 'confirmed';
  nextRetryMs?: number;
  onlineSince?: number;
}

export interface OnlineContext {
  client: MqttClient;
  sessionPresent: boolean;
  protocolVersion: 4 | 5;
}

export interface LinkHandlers {
  /** Runs on every (re)connect before the link counts as online: subscribe, publish availability. */
  online?(ctx: OnlineContext): Promise<void>;
  offline?(): void;
  /** A message; `client` is the connection it came on (answers go back on it, even mid-setup). */
  message?(topic: string, payload: Buffer, packet: IPublishPacket, client: MqttClient): void;
  conflict?(verdict: 'suspected' | 'confirmed', detail: { clientId: string; livedMs: number }): void;
}

/** Opens one MQTT.js client (`mqtt.connect` unless a test passes its own). */
export type ConnectFn = (url: string, options: IClientOptions) => MqttClient;

export interface LinkDeps {
  clock: Clock;
  log: Logger;
  random?: () => number;
  connect?: ConnectFn;
}

interface SessionEnd {
  livedMs: number;
  disconnectReason?: number;
}

/**
 * One logical MQTT connection that stays up: a fresh MQTT.js client per attempt (its own
 * auto-reconnect is off), exponential backoff with jitter between attempts, reset only after a
 * connection stayed up `stableAfterS`, so a session-takeover fight between two agents with one
 * client id slows down instead of looping. MQTT 5 first; `auto` falls back to 3.1.1 for the rest of
 * the process when the broker refuses 5 (aedes does).
 */
export class MqttLink {
  private readonly log: Logger;
  private readonly random: () => number;
  private readonly abort = new AbortController();
  private readonly takeover: TakeoverDetector;
  private version: 4 | 5;
  private current: MqttClient | undefined;
  private loop: Promise<void> | undefined;
  private readonly status: LinkStatus;
  private tlsFiles: Partial<Record<'ca' | 'cert' | 'key', Buffer>> = {};
  /**
   * Set after an oversized packet cut the connection: the next connection starts a clean session,
   * so a queued (QoS 1) oversized message is not delivered again on every reconnect.
   */
  private discardSession = false;

  constructor(
    private readonly options: LinkOptions,
    private readonly handlers: LinkHandlers,
    private readonly deps: LinkDeps,
  ) {
    this.log = deps.log.child({ component: 'mqtt' });
    // Before MQTT.js writes a packet: mqtt-packet's caches would hold memory for ever (packet-cache.ts).
    tameMqttPacket();
    this.random = deps.random ?? Math.random;
    this.version = options.protocol === '3.1.1' ? 4 : 5;
    this.takeover = new TakeoverDetector(options.reconnect.stableAfterS * 1000);
    this.status = {
      state: 'idle',
      url: redactUrl(options.url),
      protocolVersion: this.version,
      connects: 0,
      failures: 0,
    };
  }

  /** The connected client, or undefined while offline. */
  get client(): MqttClient | undefined {
    return this.status.state === 'online' ? this.current : undefined;
  }

  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  snapshot(): LinkStatus {
    return { ...this.status };
  }

  /** Reads TLS files (errors name the file) and starts connecting in the background. */
  start(signal?: AbortSignal): void {
    this.tlsFiles = readTlsFiles(this.options.tls);
    signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.loop = this.run().catch((err) => {
      if (!isAbortError(err)) this.log.error({ err: errorMessage(err) }, 'mqtt link stopped with an error');
    });
  }

  /**
   * Ends the link. With `beforeDisconnect` (e.g. publishing a retained `offline`), that runs first
   * while still connected, bounded by `timeoutMs`; then a clean DISCONNECT, so no last will fires.
   */
  async stop(beforeDisconnect?: (client: MqttClient) => Promise<void>, timeoutMs = 1000): Promise<void> {
    const client = this.client;
    this.abort.abort();
    // One budget for the whole stop: a hung broker must not hold SIGTERM up (systemd kills at 20 s).
    const deadline = this.deps.clock.now() + timeoutMs;
    if (client && beforeDisconnect) {
      await withTimeout(beforeDisconnect(client), Math.round(timeoutMs * 0.6)).catch((err) =>
        this.log.warn({ err: errorMessage(err) }, 'final publish before disconnect failed'),
      );
    }
    if (this.current) await endClient(this.current, false, Math.max(100, deadline - this.deps.clock.now()));
    await this.loop;
    this.status.state = 'stopped';
  }

  private async run(): Promise<void> {
    const { reconnect } = this.options;
    let attempt = 0;
    while (!this.abort.signal.aborted) {
      this.status.state = 'connecting';
      const result = await this.attempt();
      if (this.abort.signal.aborted) return;
      if (result.kind === 'session') {
        const verdict = this.takeover.observe(result.end);
        if (result.end.livedMs >= reconnect.stableAfterS * 1000) {
          attempt = 0;
          delete this.status.clientIdConflict;
        }
        if (verdict !== 'none') this.reportConflict(verdict, result.end.livedMs);
      } else {
        this.status.failures++;
        this.status.lastError = result.error;
        if (
          result.code !== undefined &&
          isProtocolRefusal(result.code) &&
          this.version === 5 &&
          this.options.protocol === 'auto'
        ) {
          this.version = 4;
          this.status.protocolVersion = 4;
          this.log.info({ url: this.status.url }, 'broker refused MQTT 5; using MQTT 3.1.1 from now on');
          continue;
        }
        const level = isAuthRefusal(result.code) ? 'error' : attempt === 0 ? 'warn' : 'debug';
        this.log[level]({ url: this.status.url, err: result.error, attempt }, 'mqtt connection failed');
      }
      const delay = backoffDelayMs(
        attempt++,
        reconnect.minDelayS * 1000,
        reconnect.maxDelayS * 1000,
        this.random,
      );
      this.status.state = 'waiting';
      this.status.nextRetryMs = delay;
      try {
        await this.deps.clock.sleep(delay, this.abort.signal);
      } catch (err) {
        if (isAbortError(err)) return;
        throw err;
      }
      delete this.status.nextRetryMs;
    }
  }

  private reportConflict(verdict: 'suspected' | 'confirmed', livedMs: number): void {
    const first = this.status.clientIdConflict === undefined;
    this.status.clientIdConflict = verdict;
    if (first || verdict === 'confirmed') {
      this.log.error(
        { clientId: this.options.clientId, verdict, livedMs },
        'the broker keeps ending our session: another client uses the same client id (deviceId); give each device its own id',
      );
    }
    this.handlers.conflict?.(verdict, { clientId: this.options.clientId, livedMs });
  }

  /** One connection attempt; resolves when it failed or, after being online, when it closed. */
  private attempt(): Promise<
    { kind: 'session'; end: SessionEnd } | { kind: 'failed'; error: string; code?: number }
  > {
    return new Promise((resolve) => {
      let client: MqttClient;
      try {
        client = (this.deps.connect ?? this.defaultConnect())(this.options.url, this.clientOptions());
      } catch (err) {
        // A URL the parser refuses, a client that cannot be built: a failed attempt, retried with
        // backoff and reported, never an exception out of the link's loop.
        resolve({ kind: 'failed', error: errorMessage(err) });
        return;
      }
      this.discardSession = false;
      this.current = client;
      let lastError: { message: string; code?: number } | undefined;
      let connectedAt: number | undefined;
      let disconnectReason: number | undefined;
      client.on('error', (err) => {
        const code = (err as { code?: unknown }).code;
        lastError = { message: err.message, ...(typeof code === 'number' ? { code } : {}) };
        if (connectedAt !== undefined) this.log.warn({ err: err.message }, 'mqtt connection error');
      });
      client.on('disconnect', (packet) => {
        disconnectReason = packet.reasonCode;
        this.log.warn(
          { reasonCode: packet.reasonCode, reason: packet.properties?.reasonString },
          'broker sent DISCONNECT',
        );
      });
      client.on('message', (topic, payload, packet) =>
        this.handlers.message?.(topic, payload, packet, client),
      );
      client.once('connect', (connack: IConnackPacket) => {
        void this.onConnect(client, connack).then(
          () => {
            connectedAt = this.deps.clock.now();
          },
          (err) => {
            lastError = { message: `after connect: ${errorMessage(err)}` };
            destroyClient(client);
          },
        );
      });
      client.once('close', () => {
        const wasOnline = this.status.state === 'online' && connectedAt !== undefined;
        if (wasOnline) {
          this.status.state = 'connecting';
          delete this.status.onlineSince;
          if (this.abort.signal.aborted) this.log.info({ url: this.status.url }, 'mqtt disconnected');
          else this.log.warn({ url: this.status.url }, 'mqtt connection lost');
          this.handlers.offline?.();
        }
        client.removeAllListeners('message');
        client.end(true);
        if (connectedAt !== undefined) {
          const end: SessionEnd = { livedMs: this.deps.clock.now() - connectedAt };
          if (disconnectReason !== undefined) end.disconnectReason = disconnectReason;
          resolve({ kind: 'session', end });
        } else {
          resolve({
            kind: 'failed',
            error: lastError?.message ?? 'connection closed',
            ...(lastError?.code === undefined ? {} : { code: lastError.code }),
          });
        }
      });
    });
  }

  private async onConnect(client: MqttClient, connack: IConnackPacket): Promise<void> {
    await this.handlers.online?.({
      client,
      sessionPresent: connack.sessionPresent,
      protocolVersion: this.version,
    });
    if (!client.connected) throw new Error('connection closed while setting up');
    this.status.state = 'online';
    this.status.connects++;
    this.status.onlineSince = this.deps.clock.now();
    delete this.status.lastError;
    this.log.info(
      { url: this.status.url, protocolVersion: this.version, sessionPresent: connack.sessionPresent },
      'mqtt connected',
    );
  }

  private defaultConnect(): ConnectFn {
    const max = this.options.maximumPacketSize;
    if (!max) return (url, options) => mqtt.connect(brokerConnectOptions(url, options));
    return connectWithPacketLimit(max, (err: IncomingPacketTooLargeError) => {
      this.discardSession = true;
      this.log.warn(
        { url: this.status.url, bytes: err.bytes, limit: err.limit },
        'incoming MQTT packet over the limit refused: connection closed (next session starts clean)',
      );
    });
  }

  private clientOptions(): IClientOptions {
    const o = this.options;
    const persistent = o.sessionExpiryS > 0 && !this.discardSession;
    const options: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: this.version,
      clean: !persistent,
      keepalive: o.keepaliveS,
      connectTimeout: o.connectTimeoutS * 1000,
      reconnectPeriod: 0,
      queueQoSZero: false,
      resubscribe: false,
      // No pre-generated packet-id Buffers (~7 MB of heap): packet-cache.ts.
      writeCache: false,
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.will ? { will: { ...o.will } } : {}),
      ...this.tlsFiles,
      ...(o.tls ? { rejectUnauthorized: o.tls.rejectUnauthorized } : {}),
      ...(o.tls?.passphrase ? { passphrase: o.tls.passphrase } : {}),
      ...(o.tls?.servername ? { servername: o.tls.servername } : {}),
    };
    if (this.version === 5) {
      options.properties = {
        ...(persistent ? { sessionExpiryInterval: o.sessionExpiryS } : {}),
        ...(o.maximumPacketSize ? { maximumPacketSize: o.maximumPacketSize } : {}),
      };
    }
    return options;
  }
}

function readTlsFiles(tls: LinkTls | undefined): Partial<Record<'ca' | 'cert' | 'key', Buffer>> {
  if (!tls) return {};
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new ConfigError('mqtt.tls: mutual TLS needs both cert and key (only one is set)');
  }
  const files: Partial<Record<'ca' | 'cert' | 'key', Buffer>> = {};
  for (const name of ['ca', 'cert', 'key'] as const) {
    const file = tls[name];
    if (!file) continue;
    try {
      files[name] = readFileSync(file);
    } catch (err) {
      throw new ConfigError(`mqtt.tls.${name}: cannot read ${file}: ${errorMessage(err)}`, [], {
        cause: err,
      });
    }
  }
  return files;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/**
 * Ends a client (a clean DISCONNECT unless `force`), never waiting longer than `timeoutMs`. On
 * timeout the socket is destroyed: MQTT.js ignores `end(true)` once an end is pending (5.16
 * returns early while `disconnecting`), so a hung broker would otherwise keep the socket, and the
 * process, alive until the keepalive expires.
 */
export function endClient(client: MqttClient, force: boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      destroyClient(client);
      resolve();
    }, timeoutMs);
    client.end(force, {}, () => {
      clearTimeout(timer);
      // A half-closed socket to a hung broker would stay open: close it once DISCONNECT is out.
      const stream = client.stream;
      if (stream?.writableFinished) stream.destroy();
      else if (stream && !stream.destroyed) {
        const t = setTimeout(() => stream.destroy(), 200);
        t.unref();
        stream.once('finish', () => {
          clearTimeout(t);
          stream.destroy();
        });
      }
      resolve();
    });
  });
}

/** Drops the connection now, whatever MQTT.js is waiting for (pending end, unacked messages). */
export function destroyClient(client: MqttClient): void {
  client.stream?.destroy();
  if (!client.disconnecting) client.end(true);
}
