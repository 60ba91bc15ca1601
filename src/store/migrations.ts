import type Database from 'better-sqlite3';

export interface Migration {
  name: string;
  up(db: Database.Database): void;
}

/** Append only: the index + 1 is the schema version stored in `PRAGMA user_version`. */
export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'agent runs',
    up(db) {
      db.exec(`
        CREATE TABLE agent_runs (
          id INTEGER PRIMARY KEY,
          started_at INTEGER NOT NULL,
          stopped_at INTEGER,
          version TEXT NOT NULL,
          model TEXT NOT NULL,
          variant TEXT NOT NULL,
          frames_processed INTEGER NOT NULL DEFAULT 0
        );
      `);
    },
  },
];
