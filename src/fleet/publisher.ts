import type { MqttClient } from 'mqtt';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Outbox } from '../store/outbox.js';

export interface PublisherDeps {
  outbox: Outbox;
  log: Logger;
  /** Messages published and not yet acknowledged, at most. */
  inflight: number;
}

export interface PublisherStats {
  published: number;
  acknowledged: number;
  inflight: number;
  /** Sends that failed because the connection dropped (they stay in the outbox). */
  failed: number;
}

/**
 * Drains the outbox to the broker in id order, QoS 1, with a bounded window of unacknowledged
 * messages. A row is deleted only from the PUBACK callback (acks are batched into one transaction
 * per tick). After a reconnect it starts again from the oldest row, so messages that were in
 * flight when the link dropped are sent again: order kept, duplicates only within the window.
 */
export class OutboxPublisher {
  private generation = 0;
  private wake: (() => void) | undefined;
  private readonly stats: PublisherStats = { published: 0, acknowledged: 0, inflight: 0, failed: 0 };
  private pendingAcks: number[] = [];
  private flushScheduled = false;
  private readonly drainWaiters = new Set<() => void>();
  private readonly unsubscribe: () => void;
  private active: Promise<void> | undefined;

  constructor(private readonly deps: PublisherDeps) {
    this.unsubscribe = deps.outbox.onEnqueue(() => this.poke());
  }

  snapshot(): PublisherStats {
    return { ...this.stats };
  }

  /** Starts pumping on a freshly connected client (replacing any previous pump). */
  resume(client: MqttClient): void {
    const generation = ++this.generation;
    this.poke();
    this.active = this.pump(client, generation).catch((err) => {
      this.deps.log.error({ err: errorMessage(err) }, 'outbox publisher stopped');
    });
  }

  /** The link is down: stop sending (unacked rows stay and are re-sent on resume). */
  pause(): void {
    this.generation++;
    this.poke();
  }

  async stop(): Promise<void> {
    this.pause();
    this.unsubscribe();
    await this.active;
    this.flushAcks();
  }

  /** Resolves once the outbox is empty (bench and tests). */
  drained(): Promise<void> {
    if (this.deps.outbox.pending() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.add(resolve));
  }

  private poke(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private sleep(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private async pump(client: MqttClient, generation: number): Promise<void> {
    const { outbox, inflight: window } = this.deps;
    const inflight = new Set<number>();
    let cursor = 0;
    const live = () => generation === this.generation && client.connected;
    while (live()) {
      const room = window - inflight.size;
      const rows = room > 0 ? outbox.next(cursor, room) : [];
      if (rows.length === 0) {
        // Nothing new to send (or the window is full): wait for an enqueue or an ack.
        await this.sleep();
        continue;
      }
      for (const row of rows) {
        if (!live()) return;
        cursor = row.id;
        inflight.add(row.id);
        this.stats.inflight = inflight.size;
        this.stats.published++;
        client.publish(row.topic, row.payload, { qos: row.qos, retain: row.retain }, (err) => {
          inflight.delete(row.id);
          this.stats.inflight = inflight.size;
          if (err) {
            this.stats.failed++;
            this.deps.log.debug(
              { id: row.id, err: err.message },
              'outbox publish not acknowledged; kept for resend',
            );
          } else {
            this.stats.acknowledged++;
            this.queueAck(row.id);
          }
          this.poke();
        });
      }
    }
  }

  private queueAck(id: number): void {
    this.pendingAcks.push(id);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.flushScheduled = false;
    if (this.pendingAcks.length === 0) return;
    const ids = this.pendingAcks;
    this.pendingAcks = [];
    try {
      this.deps.outbox.ackMany(ids);
    } catch (err) {
      // The rows stay and are sent again after the next reconnect: a duplicate, never a loss.
      this.deps.log.error(
        { err: errorMessage(err), count: ids.length },
        'cannot delete acknowledged outbox rows',
      );
    }
    if (this.deps.outbox.pending() === 0) {
      for (const resolve of this.drainWaiters) resolve();
      this.drainWaiters.clear();
    }
  }
}
