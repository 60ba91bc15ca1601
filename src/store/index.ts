import { type Clock, isAbortError } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { checkpoint, type Db, openDatabase } from './database.js';
import { MetricsStore } from './metrics.js';
import { type NewOutboxMessage, Outbox } from './outbox.js';
import { Benchmarks, CommandAudit, Decisions, EventLog } from './records.js';

export { checkpoint, type Db, openDatabase } from './database.js';
export { MetricsStore } from './metrics.js';
export { Outbox, type OutboxMessage, type OutboxStats } from './outbox.js';
export { Benchmarks, CommandAudit, Decisions, EventLog } from './records.js';

export type StoreConfig = AgentConfig['store'];

export interface StoreDeps {
  file: string;
  config: StoreConfig;
  clock: Clock;
  log: Logger;
  /** Topic the event log queues events on (the `events` topic); events stay local when absent. */
  eventsTopic?: string;
  /** An event could not be written (a full disk): true when handled, false rethrows (see EventLog). */
  onEventWriteError?: (err: unknown, message: NewOutboxMessage | undefined) => boolean;
}

export interface MaintenanceReport {
  rolledUp: number;
  bucketsDeleted: number;
  outboxDropped: number;
  eventsDeleted: number;
  auditDeleted: number;
  checkpointBusy: boolean;
}

/**
 * The agent's SQLite store: one database, one writer (this process), its repositories, and the
 * periodic maintenance (metrics roll-up, retention, outbox bounds, WAL checkpoint).
 */
export class Store {
  readonly db: Db;
  readonly outbox: Outbox;
  readonly metrics: MetricsStore;
  readonly benchmarks: Benchmarks;
  readonly decisions: Decisions;
  readonly events: EventLog;
  readonly audit: CommandAudit;
  private readonly log: Logger;
  private loop: Promise<void> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly deps: StoreDeps) {
    this.log = deps.log.child({ component: 'store' });
    const { config, clock } = deps;
    this.db = openDatabase({
      file: deps.file,
      log: this.log,
      walLimitBytes: config.walLimitMB * 1024 * 1024,
    });
    this.outbox = new Outbox({ db: this.db, clock, limits: config.outbox, log: this.log });
    this.metrics = new MetricsStore(this.db, config.metrics);
    this.benchmarks = new Benchmarks(this.db, clock);
    this.decisions = new Decisions(this.db, clock);
    this.events = new EventLog({
      db: this.db,
      clock,
      outbox: this.outbox,
      topic: deps.eventsTopic,
      ...(deps.onEventWriteError ? { onWriteError: deps.onEventWriteError } : {}),
    });
    this.audit = new CommandAudit(this.db, clock);
  }

  /** One maintenance pass; the periodic loop calls this, tests call it directly. */
  maintain(): MaintenanceReport {
    const { config, clock } = this.deps;
    const now = clock.now();
    const rollup = this.metrics.rollup(now);
    const outboxDropped = this.outbox.enforceLimits(true);
    const eventsDeleted = this.events.purge(now - config.eventsRetentionDays * 86_400_000);
    const auditDeleted = this.audit.purge(now - config.auditRetentionDays * 86_400_000);
    const cp = checkpoint(this.db);
    const report = {
      rolledUp: rollup.rolledUp,
      bucketsDeleted: rollup.bucketsDeleted,
      outboxDropped,
      eventsDeleted,
      auditDeleted,
      checkpointBusy: cp.busy !== 0,
    };
    this.log.debug(report, 'store maintenance');
    return report;
  }

  start(signal?: AbortSignal): void {
    signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    const { clock, config } = this.deps;
    this.loop = (async () => {
      while (!this.abort.signal.aborted) {
        try {
          await clock.sleep(config.maintenanceIntervalS * 1000, this.abort.signal);
        } catch (err) {
          if (isAbortError(err)) return;
          throw err;
        }
        try {
          this.maintain();
        } catch (err) {
          this.log.error({ err: errorMessage(err) }, 'store maintenance failed; retried next period');
        }
      }
    })();
  }

  /** Stops maintenance and closes the database (the WAL is checkpointed on close). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.db.open) this.db.close();
  }
}
