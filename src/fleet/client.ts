import type { MqttClient } from 'mqtt';
import { type DeviceView, type FleetView, MAX_OPERATOR_PAYLOAD_BYTES, type Target } from './operator.js';
import { anyDeviceResponse, deviceTopics, fleetStateTopics, groupRequestTopic } from './topics.js';

export type Answers = Map<string, Record<string, unknown>>;

export interface ExchangeOptions {
  timeoutMs: number;
  /** Stops waiting early once the answers so far are enough. */
  done(answers: Answers): boolean;
  /** MQTT 5 message expiry of the request, in seconds. */
  expiresS?: number | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The operator's side of the MQTT layout (used by `edge-agent fleet`): watches device state and
 * sends requests, matching answers by transaction. Topics come from topics.ts only.
 */
export class FleetClient {
  constructor(
    readonly client: MqttClient,
    readonly prefix: string,
  ) {}

  /** Feeds every device's retained availability/info and live telemetry into `view`. */
  async watch(
    view: FleetView,
    onIngest?: (topic: string, device: DeviceView | undefined) => void,
  ): Promise<void> {
    this.client.on('message', (topic, payload) => {
      const device = view.ingest(topic, payload, Date.now());
      onIngest?.(topic, device);
    });
    await this.client.subscribeAsync(fleetStateTopics(this.prefix), { qos: 1 });
  }

  /** Watches for `waitMs` (retained messages arrive at once, telemetry as it comes), then stops listening. */
  async collect(view: FleetView, waitMs: number): Promise<void> {
    await this.watch(view);
    await sleep(waitMs);
    this.client.removeAllListeners('message');
  }

  /** Sends one request and collects answers carrying its transaction until `done` or the timeout. */
  async exchange(
    target: Target,
    command: string,
    params: Record<string, unknown>,
    options: ExchangeOptions,
  ): Promise<Answers> {
    const { client, prefix } = this;
    const transaction = `cli-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
    const answers: Answers = new Map();
    const responseFilter =
      target.kind === 'device'
        ? deviceTopics(prefix, target.id).response(command)
        : anyDeviceResponse(prefix, command);
    let wake: () => void = () => undefined;
    const onMessage = (topic: string, payload: Buffer) => {
      if (!topic.endsWith(`/response/${command}`)) return;
      if (payload.length > MAX_OPERATOR_PAYLOAD_BYTES) return; // never parsed: bounded memory
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      } catch {
        // Someone else's garbage on a response topic: not our answer.
        return;
      }
      if (body.transaction !== transaction) return;
      const device =
        typeof body.device === 'string' ? body.device : topic.slice(prefix.length + 1).split('/')[0]!;
      answers.set(device, body);
      wake();
    };
    client.on('message', onMessage);
    await client.subscribeAsync(responseFilter, { qos: 1 });
    const requestTopic =
      target.kind === 'device'
        ? deviceTopics(prefix, target.id).request(command)
        : groupRequestTopic(prefix, target.group, command);
    // MQTT 5 message expiry: the broker drops the request if it has not been delivered in time
    // (e.g. waiting in an offline device's session), so a stale command never runs later.
    await client.publishAsync(requestTopic, JSON.stringify({ ...params, transaction }), {
      qos: 1,
      ...(options.expiresS !== undefined ? { properties: { messageExpiryInterval: options.expiresS } } : {}),
    });
    const deadline = Date.now() + options.timeoutMs;
    while (!options.done(answers) && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.min(200, Math.max(0, deadline - Date.now())));
      });
    }
    client.off('message', onMessage);
    await client.unsubscribeAsync(responseFilter);
    return answers;
  }

  close(): Promise<void> {
    return this.client.endAsync(true);
  }
}
