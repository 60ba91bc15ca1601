import type { Clock } from '../clock.js';
import type { Db } from './database.js';
import type { NewOutboxMessage, Outbox } from './outbox.js';

/** What makes a benchmark reusable: the same device, file, session options and runtime. */
export interface BenchmarkKey {
  deviceFingerprint: string;
  variantSha256: string;
  /** A stable string of the session options (EP, threads, graph optimisation). */
  sessionKey: string;
  ortVersion: string;
}

export interface BenchmarkRecord<T = unknown> extends BenchmarkKey {
  measuredAt: number;
  result: T;
}

/** Benchmark results cached by key (device fingerprint, variant, session options, runtime version). */
export class Benchmarks {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  put<T>(key: BenchmarkKey, result: T): void {
    this.db
      .prepare(
        `INSERT INTO benchmarks (device_fingerprint, variant_sha256, session_key, ort_version, measured_at, result)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (device_fingerprint, variant_sha256, session_key, ort_version)
         DO UPDATE SET measured_at = excluded.measured_at, result = excluded.result`,
      )
      .run(
        key.deviceFingerprint,
        key.variantSha256,
        key.sessionKey,
        key.ortVersion,
        this.clock.now(),
        JSON.stringify(result),
      );
  }

  get<T>(key: BenchmarkKey): BenchmarkRecord<T> | undefined {
    const row = this.db
      .prepare(
        'SELECT measured_at, result FROM benchmarks WHERE device_fingerprint = ? AND variant_sha256 = ? AND session_key = ? AND ort_version = ?',
      )
      .get(key.deviceFingerprint, key.variantSha256, key.sessionKey, key.ortVersion) as
      | { measured_at: number; result: string }
      | undefined;
    return row ? { ...key, measuredAt: row.measured_at, result: JSON.parse(row.result) as T } : undefined;
  }

  /** Drops every cached measurement of a device (a new fingerprint makes them stale anyway). */
  invalidate(deviceFingerprint: string): number {
    return this.db.prepare('DELETE FROM benchmarks WHERE device_fingerprint = ?').run(deviceFingerprint)
      .changes;
  }
}

export interface DecisionRecord<T = unknown> {
  id: number;
  ts: number;
  model: string;
  variant: string;
  reason: string;
  record: T;
}

/** Recorded variant choices with their full record (candidates, reasons, Pareto front); the latest is served as the decision. */
export class Decisions {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  add<T>(decision: { model: string; variant: string; reason: string; record: T }): number {
    const info = this.db
      .prepare('INSERT INTO decisions (ts, model, variant, reason, record) VALUES (?, ?, ?, ?, ?)')
      .run(
        this.clock.now(),
        decision.model,
        decision.variant,
        decision.reason,
        JSON.stringify(decision.record),
      );
    return Number(info.lastInsertRowid);
  }

  latest<T>(): DecisionRecord<T> | undefined {
    return this.list<T>(1)[0];
  }

  list<T>(limit = 20): DecisionRecord<T>[] {
    const rows = this.db.prepare('SELECT * FROM decisions ORDER BY id DESC LIMIT ?').all(limit) as Array<
      Omit<DecisionRecord, 'record'> & { record: string }
    >;
    return rows.map((r) => ({ ...r, record: JSON.parse(r.record) as T }));
  }
}

export type EventSeverity = 'info' | 'warning' | 'error';

export interface EventRecord {
  id: number;
  ts: number;
  type: string;
  severity: EventSeverity;
  data: Record<string, unknown>;
}

/**
 * Agent events (model switched, camera lost, broker conflict, ...): kept in the events table and,
 * in the same transaction, queued in the outbox for the `events` topic.
 */
export class EventLog {
  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      outbox?: Outbox;
      topic?: string;
      /**
       * The event could not be written (a full disk): true when handled (e.g. published live), so
       * whoever emitted it carries on; false rethrows.
       */
      onWriteError?: (err: unknown, message: NewOutboxMessage | undefined) => boolean;
    },
  ) {}

  /** Records an event and queues it for the events topic; -1 when it could not be stored. */
  emit(type: string, data: Record<string, unknown> = {}, severity: EventSeverity = 'info'): number {
    // After the store closed (the agent is stopping), a late event from a component still winding
    // down is dropped instead of throwing into that component.
    if (!this.deps.db.open) return -1;
    try {
      return this.write(type, data, severity);
    } catch (err) {
      const { topic, onWriteError } = this.deps;
      const payload = JSON.stringify({ ts: this.deps.clock.now(), type, severity, ...data });
      if (onWriteError?.(err, topic ? { kind: 'event', topic, payload } : undefined)) return -1;
      throw err;
    }
  }

  private write(type: string, data: Record<string, unknown>, severity: EventSeverity): number {
    const ts = this.deps.clock.now();
    const { db, outbox, topic } = this.deps;
    return db.transaction(() => {
      const info = db
        .prepare('INSERT INTO events (ts, type, severity, data) VALUES (?, ?, ?, ?)')
        .run(ts, type, severity, JSON.stringify(data));
      const id = Number(info.lastInsertRowid);
      if (outbox && topic) {
        outbox.enqueue({
          kind: 'event',
          topic,
          payload: JSON.stringify({ id, ts, type, severity, ...data }),
        });
      }
      return id;
    })();
  }

  list(limit = 50): EventRecord[] {
    const rows = this.deps.db.prepare('SELECT * FROM events ORDER BY id DESC LIMIT ?').all(limit) as Array<
      Omit<EventRecord, 'data'> & { data: string }
    >;
    return rows.map((r) => ({ ...r, data: JSON.parse(r.data) as Record<string, unknown> }));
  }

  purge(olderThanMs: number): number {
    return this.deps.db.prepare('DELETE FROM events WHERE ts < ?').run(olderThanMs).changes;
  }
}

export interface AuditEntry {
  command: string;
  /** `device` or `group:<name>`. */
  scope: string;
  topic: string;
  transaction?: string | undefined;
  /** The request parameters as received (secrets redacted by the caller). */
  params?: unknown;
  status: 'ok' | 'error';
  error?: string | undefined;
  durationMs: number;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  ts: number;
}

/** Every command received, answered or refused. */
export class CommandAudit {
  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  add(entry: AuditEntry): number {
    const params = entry.params === undefined ? null : truncate(JSON.stringify(entry.params), 4096);
    const info = this.db
      .prepare(
        `INSERT INTO command_audit (ts, command, scope, topic, transaction_id, params, status, error, duration_ms)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        this.clock.now(),
        truncate(entry.command, 128),
        entry.scope,
        truncate(entry.topic, 512),
        entry.transaction === undefined ? null : truncate(entry.transaction, 256),
        params,
        entry.status,
        entry.error === undefined ? null : truncate(entry.error, 1024),
        entry.durationMs,
      );
    return Number(info.lastInsertRowid);
  }

  list(limit = 50): AuditRecord[] {
    const rows = this.db.prepare('SELECT * FROM command_audit ORDER BY id DESC LIMIT ?').all(limit) as Array<{
      id: number;
      ts: number;
      command: string;
      scope: string;
      topic: string;
      transaction_id: string | null;
      params: string | null;
      status: 'ok' | 'error';
      error: string | null;
      duration_ms: number;
    }>;
    return rows.map((r) => ({
      id: r.id,
      ts: r.ts,
      command: r.command,
      scope: r.scope,
      topic: r.topic,
      transaction: r.transaction_id ?? undefined,
      params: r.params === null ? undefined : safeParse(r.params),
      status: r.status,
      error: r.error ?? undefined,
      durationMs: r.duration_ms,
    }));
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM command_audit').get() as { n: number }).n;
  }

  purge(olderThanMs: number): number {
    return this.db.prepare('DELETE FROM command_audit WHERE ts < ?').run(olderThanMs).changes;
  }
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Truncated params are not valid JSON any more; hand back the text as stored.
    return text;
  }
}
