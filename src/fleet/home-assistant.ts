import type { MqttClient } from 'mqtt';
import type { Clock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { FrameResult } from '../pipeline/types.js';
import { type DiscoveryInput, discoveryMessages, type HaTopics, haTopics } from './discovery.js';
import type { DeviceTopics } from './topics.js';

/** What the device can back, read once from the hardware profile. */
export interface HaDevice {
  board: string;
  has: DiscoveryInput['has'];
}

export interface HomeAssistantDeps {
  config: AgentConfig['mqtt'];
  deviceId: string;
  topics: DeviceTopics;
  version: string;
  clock: Clock;
  log: Logger;
  device(): Promise<HaDevice>;
  /** The controls' state (retained on the state topic; JSON-serialisable). */
  state(): Record<string, unknown> | undefined;
  variants(): string[];
  /** Whether the command table has a command (`tune`, `set-policy` come with the tuner). */
  hasCommand(name: string): boolean;
  objectives?: readonly string[];
  /**
   * Annotated JPEG of the newest frame (asked for at most once per snapshot interval: pixels
   * leave the pipeline worker only then); undefined when there is no frame yet.
   */
  snapshot(): Promise<Buffer | undefined>;
  configurationUrl?: string | undefined;
}

/** `{label: count}` of a result: detections per label; for classification the top class as 1. */
export function countLabels(result: Pick<FrameResult, 'detections' | 'classes'>): Record<string, number> {
  const counts: Record<string, number> = {};
  if (result.detections) {
    for (const d of result.detections) counts[d.label] = (counts[d.label] ?? 0) + 1;
  } else if (result.classes?.[0]) {
    counts[result.classes[0].label] = 1;
  }
  return counts;
}

/**
 * The Home Assistant side of the MQTT link: discovery for the entities this device can back,
 * re-sent when Home Assistant comes back online (`<discoveryPrefix>/status`) and when a new label
 * is first seen; per-label counts and detection events from the results; the annotated frame
 * every `snapshotIntervalS`; the controls' state (retained) whenever it changes.
 */
export class HomeAssistantBridge {
  readonly ha: HaTopics;
  readonly statusTopic: string;
  private client: MqttClient | undefined;
  private readonly labels = new Set<string>();
  private lastCounts: Record<string, number> = {};
  private lastCountsJson = '';
  private lastCountsAt = Number.NEGATIVE_INFINITY;
  private lastSnapshotAt = Number.NEGATIVE_INFINITY;
  private snapshotBusy = false;
  private lastStateJson = '';
  private lastVariantsJson = '';
  private stateTimer: ReturnType<typeof setInterval> | undefined;
  private discoveryPending: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly settings: AgentConfig['mqtt']['homeAssistant'];
  published = { discovery: 0, detections: 0, events: 0, snapshots: 0, states: 0 };

  constructor(private readonly deps: HomeAssistantDeps) {
    this.settings = deps.config.homeAssistant;
    this.log = deps.log.child({ component: 'home-assistant' });
    this.ha = haTopics(deps.config.prefix, deps.deviceId);
    this.statusTopic = `${this.settings.discoveryPrefix}/status`;
    for (const l of this.settings.labels.slice(0, this.settings.maxLabels)) this.labels.add(l);
  }

  /** Watches the controls' state; `stop()` or the signal ends it. */
  start(signal?: AbortSignal): void {
    this.stateTimer = setInterval(() => void this.publishState(), 1000);
    this.stateTimer.unref();
    signal?.addEventListener('abort', () => this.stop(), { once: true });
  }

  stop(): void {
    clearInterval(this.stateTimer);
    this.stateTimer = undefined;
    this.client = undefined;
  }

  /** On every (re)connect: listen for Home Assistant's birth message, send discovery and state. */
  async online(client: MqttClient): Promise<void> {
    this.client = client;
    await client.subscribeAsync(this.statusTopic, { qos: 1 });
    await this.publishDiscovery();
    this.lastStateJson = '';
    await this.publishState();
  }

  /** Takes Home Assistant's status messages; false for any other topic. */
  message(topic: string, payload: Buffer): boolean {
    if (topic !== this.statusTopic) return false;
    if (payload.toString() === 'online') {
      this.log.info('Home Assistant is online: discovery re-sent');
      this.lastStateJson = '';
      void this.publishDiscovery().then(() => this.publishState());
    }
    return true;
  }

  /** Feeds counts, events and the snapshot from a result (the pipeline's result listener). */
  observe(result: FrameResult): void {
    const client = this.connected();
    if (!client) return;
    const now = this.deps.clock.now();
    const all = countLabels(result);
    let newLabel = false;
    for (const label of Object.keys(all)) {
      if (
        !this.labels.has(label) &&
        this.settings.labels.length === 0 &&
        this.labels.size < this.settings.maxLabels
      ) {
        this.labels.add(label);
        newLabel = true;
      }
    }
    if (newLabel) void this.publishDiscovery();
    const counts: Record<string, number> = {};
    for (const label of this.labels) counts[label] = all[label] ?? 0;
    for (const [label, n] of Object.entries(counts)) {
      if (n > 0 && !(this.lastCounts[label] ?? 0)) {
        const score = Math.max(
          0,
          ...(result.detections ?? []).filter((d) => d.label === label).map((d) => d.score),
        );
        this.publish(this.ha.detection, JSON.stringify({ event_type: label, count: n, score: round(score) }));
        this.published.events++;
      }
    }
    this.lastCounts = counts;
    // On change (at most twice a second: a later result carries a held-back change), and while
    // something is seen often enough that the occupancy off_delay never fires.
    const json = JSON.stringify(counts);
    const seen = Object.values(counts).some((n) => n > 0);
    const since = now - this.lastCountsAt;
    const heartbeatMs = (this.settings.offDelayS * 1000) / 3;
    if ((json !== this.lastCountsJson && since >= 500) || (seen && since >= heartbeatMs)) {
      this.lastCountsJson = json;
      this.lastCountsAt = now;
      this.publish(this.ha.detections, JSON.stringify({ ts: result.capturedAtMs, counts }));
      this.published.detections++;
    }
    if (!this.snapshotBusy && now - this.lastSnapshotAt >= this.settings.snapshotIntervalS * 1000) {
      this.lastSnapshotAt = now;
      this.snapshotBusy = true;
      this.deps
        .snapshot()
        .then((jpeg) => {
          if (!jpeg) return;
          this.publish(this.ha.snapshot, jpeg);
          this.published.snapshots++;
        })
        .catch((err) => this.log.warn({ err: errorMessage(err) }, 'snapshot for Home Assistant failed'))
        .finally(() => {
          this.snapshotBusy = false;
        });
    }
  }

  /** The labels that have entities now (configured, or seen so far up to maxLabels). */
  trackedLabels(): string[] {
    return [...this.labels];
  }

  /** One discovery round at a time; a request during one runs once after it. */
  publishDiscovery(): Promise<void> {
    const run = async () => {
      const client = this.connected();
      if (!client) return;
      const device = await this.deps.device();
      const messages = discoveryMessages({
        discoveryPrefix: this.settings.discoveryPrefix,
        deviceId: this.deps.deviceId,
        topics: this.deps.topics,
        ha: this.ha,
        version: this.deps.version,
        board: device.board,
        has: device.has,
        configurationUrl: this.deps.configurationUrl,
        labels: this.trackedLabels(),
        variants: this.deps.variants(),
        offDelayS: this.settings.offDelayS,
        commands: { tune: this.deps.hasCommand('tune'), setPolicy: this.deps.hasCommand('set-policy') },
        objectives: this.deps.objectives ?? [],
      });
      for (const m of messages) await client.publishAsync(m.topic, m.payload, { qos: 1, retain: true });
      this.published.discovery++;
    };
    const previous = this.discoveryPending ?? Promise.resolve();
    const next = previous.then(run, run).catch((err) => {
      this.log.warn({ err: errorMessage(err) }, 'Home Assistant discovery not published');
    });
    this.discoveryPending = next;
    return next;
  }

  private async publishState(): Promise<void> {
    const client = this.connected();
    const state = this.deps.state();
    if (!client || !state) return;
    // A derived variant or a model switch changes the select's options: announce them again.
    const variants = JSON.stringify(this.deps.variants());
    if (this.lastVariantsJson && variants !== this.lastVariantsJson) void this.publishDiscovery();
    this.lastVariantsJson = variants;
    const json = JSON.stringify(state);
    if (json === this.lastStateJson) return;
    this.lastStateJson = json;
    try {
      await client.publishAsync(this.ha.state, json, { qos: 1, retain: true });
      this.published.states++;
    } catch (err) {
      this.lastStateJson = '';
      this.log.debug({ err: errorMessage(err) }, 'state not published');
    }
  }

  private connected(): MqttClient | undefined {
    return this.client?.connected ? this.client : undefined;
  }

  private publish(topic: string, payload: string | Buffer): void {
    this.client?.publish(topic, payload, { qos: 0 }, (err) => {
      if (err) this.log.debug({ err: err.message, topic }, 'not published');
    });
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;
