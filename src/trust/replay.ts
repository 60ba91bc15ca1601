import type { Db } from '../store/database.js';

/**
 * Command ids already executed, kept until their envelope expires (plus the clock skew), so a
 * recorded signed command cannot be replayed. Its own table, created here (not a numbered
 * migration: it holds only short-lived rows and is safe to create on any schema version).
 */
export class ReplayStore {
  private readonly insert;
  private readonly purgeStmt;

  constructor(private readonly db: Db) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS trust_seen_commands (
        cmd_id TEXT PRIMARY KEY,
        key_id TEXT NOT NULL,
        seen_at INTEGER NOT NULL,
        keep_until INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS trust_seen_keep ON trust_seen_commands (keep_until);
    `);
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
