import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { EdgeAgentError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database.Database;

export interface OpenDatabaseOptions {
  /** File path, or ':memory:' for tests. */
  file: string;
  log?: Logger;
  migrations?: readonly Migration[];
  /** WAL size kept after a checkpoint (PRAGMA journal_size_limit); unlimited when absent. */
  walLimitBytes?: number;
}

/**
 * Opens the agent's SQLite database: WAL (readers never block the writer, and a crash keeps the
 * last committed transaction), a busy timeout, and migrations applied in order inside transactions.
 */
export function openDatabase(options: OpenDatabaseOptions): Db {
  if (options.file !== ':memory:') mkdirSync(path.dirname(options.file), { recursive: true });
  let db: Db;
  try {
    db = new Database(options.file);
  } catch (err) {
    throw new EdgeAgentError(`cannot open database ${options.file}: ${errorMessage(err)}`, { cause: err });
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  if (options.walLimitBytes !== undefined)
    db.pragma(`journal_size_limit = ${Math.round(options.walLimitBytes)}`);
  migrate(db, options.migrations ?? MIGRATIONS, options.log);
  return db;
}

export function migrate(db: Db, migrations: readonly Migration[], log?: Logger): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.length;
  if (current > latest) {
    throw new EdgeAgentError(
      `database schema version ${current} is newer than this agent knows (${latest}); upgrade the agent or restore a backup`,
    );
  }
  for (let v = current; v < latest; v++) {
    const m = migrations[v]!;
    db.transaction(() => {
      m.up(db);
      db.pragma(`user_version = ${v + 1}`);
    })();
    log?.info({ version: v + 1, migration: m.name }, 'database migrated');
  }
}

export interface CheckpointResult {
  /** 1 when a reader or writer kept the checkpoint from completing (it is retried next time). */
  busy: number;
  walFrames: number;
  checkpointedFrames: number;
}

/**
 * Copies the WAL back into the database and truncates it (to journal_size_limit), so the WAL
 * cannot grow without bound on a long-running device.
 */
export function checkpoint(db: Db): CheckpointResult {
  const [row] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{
    busy: number;
    log: number;
    checkpointed: number;
  }>;
  return { busy: row?.busy ?? 0, walFrames: row?.log ?? 0, checkpointedFrames: row?.checkpointed ?? 0 };
}
