import type Database from 'better-sqlite3';
import { addColumnIfMissing } from './schema-helpers.js';

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
  {
    name: 'outbox, metrics, benchmarks, decisions, events, command audit',
    up(db) {
      db.exec(`
        -- Messages waiting for a broker acknowledgement, published in id order.
        CREATE TABLE outbox (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          created_at INTEGER NOT NULL,
          kind TEXT NOT NULL,
          topic TEXT NOT NULL,
          payload BLOB NOT NULL,
          qos INTEGER NOT NULL DEFAULT 1,
          retain INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX outbox_created ON outbox (created_at);

        -- Small durable counters and values (outbox drops, ...).
        CREATE TABLE counters (
          name TEXT PRIMARY KEY,
          value INTEGER NOT NULL
        );

        -- Raw telemetry samples (short window): one row per sample, fields as flat JSON.
        CREATE TABLE metrics_raw (
          id INTEGER PRIMARY KEY,
          ts INTEGER NOT NULL,
          fields TEXT NOT NULL
        );
        CREATE INDEX metrics_raw_ts ON metrics_raw (ts);

        -- Rolled-up history: one row per (bucket, field).
        CREATE TABLE metrics_rollup (
          bucket_start INTEGER NOT NULL,
          bucket_s INTEGER NOT NULL,
          field TEXT NOT NULL,
          count INTEGER NOT NULL,
          sum REAL NOT NULL,
          min REAL NOT NULL,
          max REAL NOT NULL,
          last REAL NOT NULL,
          PRIMARY KEY (field, bucket_start)
        ) WITHOUT ROWID;
        CREATE INDEX metrics_rollup_bucket ON metrics_rollup (bucket_start);

        -- Benchmark cache keyed by what makes a measurement reusable.
        CREATE TABLE benchmarks (
          device_fingerprint TEXT NOT NULL,
          variant_sha256 TEXT NOT NULL,
          session_key TEXT NOT NULL,
          ort_version TEXT NOT NULL,
          measured_at INTEGER NOT NULL,
          result TEXT NOT NULL,
          PRIMARY KEY (device_fingerprint, variant_sha256, session_key, ort_version)
        );

        CREATE TABLE decisions (
          id INTEGER PRIMARY KEY,
          ts INTEGER NOT NULL,
          model TEXT NOT NULL,
          variant TEXT NOT NULL,
          reason TEXT NOT NULL,
          record TEXT NOT NULL
        );

        CREATE TABLE events (
          id INTEGER PRIMARY KEY,
          ts INTEGER NOT NULL,
          type TEXT NOT NULL,
          severity TEXT NOT NULL,
          data TEXT NOT NULL
        );
        CREATE INDEX events_ts ON events (ts);

        CREATE TABLE command_audit (
          id INTEGER PRIMARY KEY,
          ts INTEGER NOT NULL,
          command TEXT NOT NULL,
          scope TEXT NOT NULL,
          topic TEXT NOT NULL,
          transaction_id TEXT,
          params TEXT,
          status TEXT NOT NULL,
          error TEXT,
          duration_ms REAL NOT NULL
        );
        CREATE INDEX command_audit_ts ON command_audit (ts);
      `);
    },
  },
  {
    // Before this migration these tables were created on first use (`CREATE TABLE IF NOT EXISTS`
    // in DeployStore / ReplayStore), so a database at version 2 may already hold them: adopted
    // as they are, then given the columns the resumable deployment needs.
    name: 'deploy jobs, deployed versions, seen signed commands',
    up(db) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS deploy_jobs (
          id INTEGER PRIMARY KEY,
          model TEXT NOT NULL, variant TEXT NOT NULL, version INTEGER NOT NULL,
          manifest TEXT NOT NULL, state TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0,
          error TEXT, started_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS deploy_versions (
          model TEXT NOT NULL, variant TEXT NOT NULL, version INTEGER NOT NULL,
          variant_id TEXT NOT NULL, sha256 TEXT NOT NULL, installed_at INTEGER NOT NULL,
          status TEXT NOT NULL,
          PRIMARY KEY (model, variant, version)
        );
        CREATE TABLE IF NOT EXISTS trust_seen_commands (
          cmd_id TEXT PRIMARY KEY,
          key_id TEXT NOT NULL,
          seen_at INTEGER NOT NULL,
          keep_until INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS trust_seen_keep ON trust_seen_commands (keep_until);
      `);
      // The signer and signature next to the signed payload (`manifest`), so a restart can
      // re-verify the manifest and resume without the operator sending it again.
      addColumnIfMissing(db, 'deploy_jobs', 'key_id', 'TEXT');
      addColumnIfMissing(db, 'deploy_jobs', 'signature', 'TEXT');
      // How many times a restart resumed this job (a model that kills the agent is given up on).
      addColumnIfMissing(db, 'deploy_jobs', 'resumes', 'INTEGER NOT NULL DEFAULT 0');
    },
  },
];
