import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import { Counters } from './counters.js';
import type { Db } from './database.js';

export interface OutboxMessage {
  id: number;
  createdAt: number;
  kind: string;
  topic: string;
  payload: Buffer;
  qos: 0 | 1;
  retain: boolean;
}

export interface NewOutboxMessage {
  /** What it is (telemetry, event, ...), for stats and logs. */
  kind: string;
  topic: string;
  payload: string | Buffer;
  qos?: 0 | 1;
  retain?: boolean;
}

export interface OutboxLimits {
  /** More rows than this: the oldest are dropped and counted. */
  maxRows: number;
  /** Rows older than this are dropped and counted. */
  maxAgeS: number;
}

export interface OutboxStats {
  pending: number;
  /** Creation time of the oldest pending row, ms since the epoch. */
  oldestCreatedAt: number | undefined;
  /** Rows dropped because of the size or age bound, since the database was created. */
  droppedTotal: number;
}

export interface OutboxDeps {
  db: Db;
  clock: Clock;
  limits: OutboxLimits;
  log?: Logger;
}

interface Row {
  id: number;
  created_at: number;
  kind: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
}

const DROPPED = 'outbox_dropped';

/**
 * The durable queue between producers (telemetry, events) and the MQTT publisher. A row is written
 * before anything is sent and deleted only when the broker acknowledged it, so neither a broker
 * outage nor a SIGKILL of the agent loses it. Bounded: past `maxRows` or `maxAgeS` the oldest rows
 * are dropped and the drop is counted in a durable counter that telemetry reports.
 */
export class Outbox {
  private readonly counters: Counters;
  private readonly listeners = new Set<() => void>();
  private pendingCount: number;
  private lastAgeCheck = 0;
  private readonly insert;
  private readonly select;
  private readonly remove;

  constructor(private readonly deps: OutboxDeps) {
    const { db } = deps;
    this.counters = new Counters(db);
    this.insert = db.prepare(
      'INSERT INTO outbox (created_at, kind, topic, payload, qos, retain) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.select = db.prepare('SELECT * FROM outbox WHERE id > ? ORDER BY id LIMIT ?');
    this.remove = db.prepare('DELETE FROM outbox WHERE id = ?');
    this.pendingCount = (db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  }

  get limits(): OutboxLimits {
    return this.deps.limits;
  }

  /** Writes one message (committed before this returns) and wakes the publisher. */
  enqueue(message: NewOutboxMessage): number {
    const id = this.write(message);
    this.enforceLimits();
    this.notify();
    return id;
  }

  /** Writes many messages in one transaction (faster; the same guarantees). */
  enqueueMany(messages: readonly NewOutboxMessage[]): number[] {
    const ids = this.deps.db.transaction(() => messages.map((m) => this.write(m)))();
    this.enforceLimits();
    this.notify();
    return ids;
  }

  private write(m: NewOutboxMessage): number {
    const payload = typeof m.payload === 'string' ? Buffer.from(m.payload) : m.payload;
    const info = this.insert.run(
      this.deps.clock.now(),
      m.kind,
      m.topic,
      payload,
      m.qos ?? 1,
      m.retain ? 1 : 0,
    );
    this.pendingCount++;
    return Number(info.lastInsertRowid);
  }

  /** Up to `limit` messages with an id above `afterId`, oldest first. */
  next(afterId: number, limit: number): OutboxMessage[] {
    return (this.select.all(afterId, limit) as Row[]).map((r) => ({
      id: r.id,
      createdAt: r.created_at,
      kind: r.kind,
      topic: r.topic,
      payload: r.payload,
      qos: r.qos === 0 ? 0 : 1,
      retain: r.retain === 1,
    }));
  }

  /** The broker acknowledged the message: delete it. False when it was already gone. */
  ack(id: number): boolean {
    const deleted = this.remove.run(id).changes === 1;
    if (deleted) this.pendingCount--;
    return deleted;
  }

  /** Deletes many acknowledged messages in one transaction; returns how many were still there. */
  ackMany(ids: readonly number[]): number {
    return this.deps.db.transaction(() => ids.reduce((n, id) => n + (this.ack(id) ? 1 : 0), 0))();
  }

  pending(): number {
    return this.pendingCount;
  }

  stats(): OutboxStats {
    const oldest = this.deps.db.prepare('SELECT min(created_at) AS t FROM outbox').get() as {
      t: number | null;
    };
    return {
      pending: this.pendingCount,
      oldestCreatedAt: oldest.t ?? undefined,
      droppedTotal: this.counters.get(DROPPED),
    };
  }

  /**
   * Drops rows beyond the bounds (oldest first) and counts them. The row bound is checked on every
   * write; the age bound at most once a second (and always when `force`).
   */
  enforceLimits(force = false): number {
    const { maxRows, maxAgeS } = this.deps.limits;
    const now = this.deps.clock.now();
    let dropped = 0;
    const checkAge = force || now - this.lastAgeCheck >= 1000;
    if (this.pendingCount <= maxRows && !checkAge) return 0;
    this.deps.db.transaction(() => {
      if (checkAge) {
        this.lastAgeCheck = now;
        dropped += this.deps.db
          .prepare('DELETE FROM outbox WHERE created_at < ?')
          .run(now - maxAgeS * 1000).changes;
      }
      const excess = this.pendingCount - dropped - maxRows;
      if (excess > 0) {
        dropped += this.deps.db
          .prepare('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)')
          .run(excess).changes;
      }
      if (dropped > 0) this.counters.add(DROPPED, dropped);
    })();
    if (dropped > 0) {
      this.pendingCount -= dropped;
      this.deps.log?.warn(
        { dropped, droppedTotal: this.counters.get(DROPPED), maxRows, maxAgeS },
        'outbox bound reached: oldest messages dropped',
      );
    }
    return dropped;
  }

  /** Called after every enqueue; returns the unsubscribe function. */
  onEnqueue(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.deps.log?.error({ err }, 'outbox listener failed');
      }
    }
  }
}
