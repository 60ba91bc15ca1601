import type { Db } from '../store/database.js';

/**
 * Command ids already executed, kept until their envelope expires (plus the clock skew), so a
 * recorded signed command cannot be replayed. Table `trust_seen_commands` (store migration 3).
 */
export class ReplayStore {
  private readonly insert;
  private readonly purgeStmt;

  constructor(private readonly db: Db) {
    this.insert = db.prepare(
      'INSERT OR IGNORE INTO trust_seen_commands (cmd_id, key_id, seen_at, keep_until) VALUES (?, ?, ?, ?)',
    );
    this.purgeStmt = db.prepare('DELETE FROM trust_seen_commands WHERE keep_until < ?');
  }

  /** Records `cmdId`; false when it was seen before (a replay). One statement: atomic. */
  claim(cmdId: string, keyId: string, nowMs: number, keepUntilMs: number): boolean {
    return this.insert.run(cmdId, keyId, nowMs, keepUntilMs).changes === 1;
  }

  /** Forgets ids whose envelopes can no longer be accepted anyway. */
  purge(nowMs: number): number {
    return this.purgeStmt.run(nowMs).changes;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM trust_seen_commands').get() as { n: number }).n;
  }
}
