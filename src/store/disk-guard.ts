import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { NewOutboxMessage, Outbox } from './outbox.js';

/** SQLite's "database or disk is full" or a file system's ENOSPC/EDQUOT. Pure. */
export function isDiskFullError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') return true;
  if (
    typeof code === 'string' &&
    code.startsWith('SQLITE_IOERR') &&
    /disk is full|no space/i.test(errorMessage(err))
  )
    return true;
  return /database or disk is full|no space left on device/i.test(errorMessage(err));
}

export interface DiskGuardStats {
  full: boolean;
  /** Writes refused by the full disk (metrics rows, outbox rows, events). */
  failedWritesTotal: number;
  /** Messages that could not be queued and went straight to the broker instead. */
  publishedLiveTotal: number;
  /** Messages that could neither be queued nor published: lost. */
  droppedTotal: number;
}

export interface DiskGuardDeps {
  log: Logger;
  /** Publishes a message straight to the broker; false when the link is down. */
  publishLive: (message: NewOutboxMessage) => boolean;
  /** The disk became full (`full: true`) or writable again. */
  onChange?: (full: boolean, error: string | undefined) => void;
}

/**
 * Keeps the agent useful on a full disk. Writes go through `write()`: a disk-full error marks the
 * disk full (once, with `onChange`) instead of propagating, and the next write that succeeds marks
 * it writable again. Outbox messages that cannot be stored are published live when the broker is
 * reachable and counted as dropped when not; the counts are in memory (the disk is full), so they
 * are reported in telemetry rather than in the database's counter.
 */
export class DiskGuard {
  private full = false;
  private lastError: string | undefined;
  private readonly counts = { failedWritesTotal: 0, publishedLiveTotal: 0, droppedTotal: 0 };

  constructor(private readonly deps: DiskGuardDeps) {}

  stats(): DiskGuardStats {
    return { full: this.full, ...this.counts };
  }

  /** Runs a database/file write; undefined when the disk is full (anything else is rethrown). */
  write<T>(what: string, fn: () => T): T | undefined {
    let value: T;
    try {
      value = fn();
    } catch (err) {
      if (!isDiskFullError(err)) throw err;
      this.failed(what, err);
      return undefined;
    }
    this.succeeded();
    return value;
  }

  /**
   * The outbox as producers see it: a message that cannot be stored is published live (QoS as
   * asked, no retry) or counted as dropped. Returns the row id, or -1 when not stored.
   */
  enqueue(outbox: Pick<Outbox, 'enqueue'>, message: NewOutboxMessage): number {
    const id = this.write(`outbox ${message.kind}`, () => outbox.enqueue(message));
    if (id !== undefined) return id;
    this.sendLive(message);
    return -1;
  }

  /** A message that could not be stored (an event whose write failed): live, or counted as lost. */
  sendLive(message: NewOutboxMessage): boolean {
    let sent = false;
    try {
      sent = this.deps.publishLive(message);
    } catch (err) {
      this.deps.log.warn({ err: errorMessage(err), kind: message.kind }, 'live publish failed');
    }
    if (sent) this.counts.publishedLiveTotal++;
    else this.counts.droppedTotal++;
    return sent;
  }

  /** Records a disk-full failure seen elsewhere (e.g. inside a transaction we do not own). */
  failed(what: string, err: unknown): void {
    this.counts.failedWritesTotal++;
    this.lastError = errorMessage(err);
    if (this.full) {
      this.deps.log.debug({ what, err: this.lastError }, 'write refused: disk full');
      return;
    }
    this.full = true;
    this.deps.log.error(
      { what, err: this.lastError },
      'disk full: live telemetry goes straight to the broker, history and queued messages are not kept',
    );
    this.deps.onChange?.(true, this.lastError);
  }

  private succeeded(): void {
    if (!this.full) return;
    this.full = false;
    this.deps.log.warn({ ...this.counts }, 'disk writable again: queueing resumed');
    this.deps.onChange?.(false, undefined);
  }
}
