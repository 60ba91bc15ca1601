import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/outbox.js';
import type { CommandAudit, EventLog } from '../store/records.js';
import { resolveBrokerCredentials } from './broker-auth.js';
import { type LinkStatus, MqttLink, type OnlineContext } from './connection.js';
import { EmbeddedBroker } from './embedded-broker.js';
import { OutboxPublisher, type PublisherStats } from './publisher.js';
import { type ResultMessage, ResultsGate, type ResultsPolicy } from './results.js';
import { CommandRouter, type CommandTable, type RouterDeps } from './router.js';
import { type DeviceTopics, deviceTopics, groupRequests, parseRequestTopic } from './topics.js';

export type MqttConfig = AgentConfig['mqtt'];

export interface FleetDeps {
  config: MqttConfig;
  deviceId: string;
  version: string;
  clock: Clock;
  log: Logger;
  outbox: Outbox;
  audit?: CommandAudit;
  events?: EventLog;
  /** `request/<command>` → handler: the features' commands (src/features/feature.ts commandTable). */
  commands: CommandTable;
  /** The retained `info` document (agent version, profile summary, model, decision, config). */
  info(): Record<string, unknown>;
  random?: () => number;
  /** Where the embedded broker keeps generated credentials (required to listen beyond loopback). */
  dataDir?: string;
  /** Signed-command gate (trust/authorizer.ts), run before every command. */
  authorize?: RouterDeps['authorize'];
  /** Locks held outside the router (the tuner's background tunes hold the model). */
  lockHolder?: RouterDeps['lockHolder'];
  /** Parts that ride on the link (Home Assistant): told of every (re)connect, offered other topics. */
  extensions?: FleetExtension[];
}

export interface FleetExtension {
  online(client: MqttClient): Promise<void>;
  /** True when it took the message. */
  message?(topic: string, payload: Buffer): boolean;
}

export interface FleetStatus {
  deviceId: string;
  link: LinkStatus;
  publisher: PublisherStats;
  outboxPending: number;
  embeddedBroker?: string;
  results: { skippedSame: number; skippedRate: number };
}

/** How long a stop waits for the commands under way to answer (within the MQTT stop step's budget). */
const COMMANDS_SETTLE_MS = 250;
/** The answer of a command the agent's stop did not wait for. */
export const STOPPED_BEFORE_DONE =
  'the agent stopped before this command finished; what it had done may or may not have taken effect — check the retained info once the device is back online';

/** Resolves when every promise in `pending` has settled, or after `ms`, whichever is first. */
async function settledWithin(pending: ReadonlySet<Promise<unknown>>, ms: number): Promise<void> {
  if (pending.size === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...pending]),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

/**
 * Everything MQTT for one device: the (optional) embedded broker, the link, the outbox publisher,
 * availability/info/discovery on every (re)connect, results, and the command router.
 */
export class FleetService {
  readonly topics: DeviceTopics;
  private readonly log: Logger;
  private broker: EmbeddedBroker | undefined;
  private link: MqttLink | undefined;
  private readonly publisher: OutboxPublisher;
  private readonly router: CommandRouter;
  private readonly table: CommandTable;
  private readonly gate: ResultsGate;
  private readonly deferred: Array<() => void> = [];
  /** Requests being handled or answered: a stop lets them end first (stop()). */
  private readonly handling = new Set<Promise<void>>();

  constructor(private readonly deps: FleetDeps) {
    this.log = deps.log.child({ component: 'fleet' });
    this.topics = deviceTopics(deps.config.prefix, deps.deviceId);
    this.publisher = new OutboxPublisher({
      outbox: deps.outbox,
      log: this.log,
      inflight: deps.config.inflight,
    });
    this.gate = new ResultsGate(deps.config.results);
    this.table = deps.commands;
    this.router = new CommandRouter({
      deviceId: deps.deviceId,
      table: this.table,
      clock: deps.clock,
      log: this.log,
      audit: deps.audit,
      maxPayloadBytes: deps.config.commands.maxPayloadBytes,
      progress: (command, transaction, data) =>
        deps.events?.emit(`${command}-progress`, { ...(transaction ? { transaction } : {}), ...data }),
      afterResponse: (fn) => this.deferred.push(fn),
      authorize: deps.authorize,
      lockHolder: deps.lockHolder,
    });
  }

  /** Whether `request/<name>` is a command of this agent. */
  hasCommand(name: string): boolean {
    return Object.hasOwn(this.table, name);
  }

  /** The broker URL the link uses (the embedded broker's once it runs). */
  get brokerUrl(): string {
    return this.broker?.url ?? this.deps.config.url;
  }

  /** Starts the embedded broker when configured, then the link (connecting in the background). */
  async start(signal?: AbortSignal): Promise<void> {
    const { config } = this.deps;
    let url = config.url;
    let credentials = { username: config.username, password: config.password };
    if (url === 'embedded') {
      const auth = resolveBrokerCredentials({
        host: config.embedded.host,
        username: config.username,
        password: config.password,
        dataDir: this.deps.dataDir,
        log: this.log,
      });
      this.broker = await EmbeddedBroker.start({ ...config.embedded, credentials: auth, log: this.deps.log });
      url = this.broker.url;
      // The agent's own client uses the broker's pair (generated ones included).
      if (auth) credentials = { username: auth.username, password: auth.password };
    }
    this.link = new MqttLink(
      {
        url,
        clientId: this.deps.deviceId,
        protocol: config.protocol,
        username: credentials.username,
        password: credentials.password,
        tls: config.tls,
        keepaliveS: config.keepaliveS,
        connectTimeoutS: config.connectTimeoutS,
        sessionExpiryS: config.sessionExpiryS,
        reconnect: config.reconnect,
        will: { topic: this.topics.availability, payload: 'offline', qos: 1, retain: true },
        // Requests bigger than this never reach us (MQTT 5); up to it they get a "too large" answer.
        maximumPacketSize: config.commands.maxPayloadBytes * 4 + 65_536,
      },
      {
        online: (ctx) => this.onOnline(ctx),
        offline: () => this.publisher.pause(),
        message: (topic, payload, packet, client) => this.onMessage(topic, payload, packet, client),
        conflict: (verdict, detail) =>
          this.deps.events?.emit('mqtt-client-id-conflict', { verdict, ...detail }, 'error'),
      },
      {
        clock: this.deps.clock,
        log: this.deps.log,
        ...(this.deps.random ? { random: this.deps.random } : {}),
      },
    );
    this.link.start(signal);
  }

  status(): FleetStatus {
    return {
      deviceId: this.deps.deviceId,
      link: this.link?.snapshot() ?? {
        state: 'idle',
        url: this.deps.config.url,
        protocolVersion: 5,
        connects: 0,
        failures: 0,
      },
      publisher: this.publisher.snapshot(),
      outboxPending: this.deps.outbox.pending(),
      ...(this.broker ? { embeddedBroker: this.broker.url } : {}),
      results: { skippedSame: this.gate.skippedSame, skippedRate: this.gate.skippedRate },
    };
  }

  /** Resolves once every queued message is acknowledged (tests, bench). */
  drained(): Promise<void> {
    return this.publisher.drained();
  }

  configureResults(policy: ResultsPolicy): void {
    this.gate.configure(policy);
  }

  /** Publishes a result when the gate lets it through and the link is up (results are not queued). */
  publishResult(result: ResultMessage): boolean {
    const client = this.link?.client;
    if (!client || !this.gate.offer(result, this.deps.clock.now())) return false;
    client.publish(this.topics.results, JSON.stringify(result), { qos: this.gate.qos }, (err) => {
      if (err) this.log.debug({ err: err.message }, 'result not published');
    });
    return true;
  }

  /**
   * Publishes one message now, bypassing the outbox (used when the outbox cannot be written: a full
   * disk). False when the link is down; no retry, no persistence.
   */
  publishLive(message: { topic: string; payload: string | Buffer; qos?: 0 | 1; retain?: boolean }): boolean {
    const client = this.link?.client;
    if (!client) return false;
    const options = { qos: message.qos ?? 1, retain: message.retain ?? false } as const;
    client.publish(message.topic, message.payload, options, (err) => {
      if (err) this.log.debug({ err: err.message, topic: message.topic }, 'live message not published');
    });
    return true;
  }

  /** Re-publishes the retained info document (after a model switch or config change). */
  async publishInfo(): Promise<void> {
    const client = this.link?.client;
    if (!client) return;
    await client.publishAsync(this.topics.info, JSON.stringify(this.deps.info()), { qos: 1, retain: true });
  }

  /** Publishes retained `offline`, disconnects cleanly, stops the embedded broker. */
  async stop(): Promise<void> {
    // A command the stop cut short (a derive aborted, a set-model refused) answers and is audited
    // while the link and the database are still open: the sender gets "failed", not silence.
    await settledWithin(this.handling, COMMANDS_SETTLE_MS);
    // Longer ones (a derive finishing its step, a model load that ignores the abort) are answered
    // now, saying so, and audited; their work's own outcome comes too late to be sent.
    if (this.router.interrupt(STOPPED_BEFORE_DONE) > 0)
      await settledWithin(this.handling, COMMANDS_SETTLE_MS);
    await this.publisher.stop();
    await this.link?.stop(async (client) => {
      await client.publishAsync(this.topics.availability, 'offline', { qos: 1, retain: true });
    });
    if (this.broker) await this.broker.stop();
  }

  private async onOnline({ client }: OnlineContext): Promise<void> {
    const { config } = this.deps;
    const subscriptions = [
      this.topics.requests,
      ...config.groups.map((g) => groupRequests(config.prefix, g)),
    ];
    // Always subscribe, even when the broker kept our session: a broker restarted without
    // persistence forgets subscriptions and reports sessionPresent=false, a resumed one is a no-op.
    const granted = await client.subscribeAsync(subscriptions, { qos: 1 });
    const refused = granted.filter((g) => g.qos === 128).map((g) => g.topic);
    if (refused.length > 0)
      this.log.error({ topics: refused }, 'broker refused subscriptions (check its ACL)');
    await client.publishAsync(this.topics.availability, 'online', { qos: 1, retain: true });
    await client.publishAsync(this.topics.info, JSON.stringify(this.deps.info()), { qos: 1, retain: true });
    for (const extension of this.deps.extensions ?? []) {
      await extension
        .online(client)
        .catch((err) => this.log.warn({ err: errorMessage(err) }, 'extension set-up on connect failed'));
    }
    this.publisher.resume(client);
  }

  private onMessage(topic: string, payload: Buffer, packet: IPublishPacket, client: MqttClient): void {
    const { config } = this.deps;
    const request = parseRequestTopic(topic, config.prefix, this.deps.deviceId, config.groups);
    if (!request) {
      if (this.deps.extensions?.some((e) => e.message?.(topic, payload))) return;
      this.log.debug({ topic }, 'message on an unexpected topic ignored');
      return;
    }
    // Queued requests of a resumed session arrive before our set-up is done: answer on the
    // connection they came on; if that one dropped meanwhile, on the current one.
    const handled: Promise<void> = this.router
      .handle({ topic, scope: request.scope, command: request.command, payload })
      .then(async (response) => {
        const responseTopic = this.responseTopic(packet, request.command);
        const correlationData = packet.properties?.correlationData;
        const target = client.connected ? client : this.link?.client;
        if (target) {
          await target.publishAsync(responseTopic, JSON.stringify(response), {
            qos: 1,
            ...(correlationData ? { properties: { correlationData } } : {}),
          });
        }
      })
      .catch((err) =>
        this.log.warn({ err: errorMessage(err), command: request.command }, 'response not published'),
      )
      .finally(() => {
        this.handling.delete(handled);
        this.runDeferred();
      });
    this.handling.add(handled);
  }

  /**
   * MQTT 5 responseTopic when it is a plain topic outside our request space (a response sent to a
   * request topic would be taken for a new request: an endless loop); our response topic otherwise.
   */
  private responseTopic(packet: IPublishPacket, command: string): string {
    const asked = packet.properties?.responseTopic;
    const fallback = this.topics.response(command);
    if (!asked) return fallback;
    const loops = /\/request(\/|$)/.test(asked) && asked.startsWith(`${this.deps.config.prefix}/`);
    if (loops || /[+#]/.test(asked) || asked.length > 512 || asked.length === 0) {
      this.log.warn(
        { responseTopic: asked.slice(0, 200) },
        'unusable responseTopic; answering on the response topic',
      );
      return fallback;
    }
    return asked;
  }

  private runDeferred(): void {
    for (const fn of this.deferred.splice(0)) {
      try {
        fn();
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, 'deferred command action failed');
      }
    }
  }
}
