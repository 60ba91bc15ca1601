import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeployStore } from '../../../src/fleet/deploy/state.js';
import { openDatabase } from '../../../src/store/database.js';
import { MIGRATIONS } from '../../../src/store/migrations.js';
import { ReplayStore } from '../../../src/trust/replay.js';

/** The tables as earlier builds created them on first use (`CREATE TABLE IF NOT EXISTS`, schema version 2). */
const OLD_TABLES = `
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
    cmd_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, seen_at INTEGER NOT NULL, keep_until INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS trust_seen_keep ON trust_seen_commands (keep_until);
`;

const columns = (db: ReturnType<typeof openDatabase>, table: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);

describe('store migration 3: deploy and signed-command tables', () => {
  it('upgrades a version-2 database whose deploy tables were created on first use, keeping their rows', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ea-mig-')), 'edge-agent.db');
    const old = openDatabase({ file, migrations: MIGRATIONS.slice(0, 2) });
    old.exec(OLD_TABLES);
    old
      .prepare(
        `INSERT INTO deploy_jobs (model, variant, version, manifest, state, started_at, updated_at)
         VALUES ('ultraface', 'slim', 2, '{"old":true}', 'committed', 1, 2)`,
      )
      .run();
    old
      .prepare(
        `INSERT INTO deploy_versions VALUES ('ultraface', 'slim', 2, 'slim-v2', '${'a'.repeat(64)}', 2, 'active')`,
      )
      .run();
    old.prepare("INSERT INTO trust_seen_commands VALUES ('cmd-1', 'k', 1, 9e15)").run();
    expect(old.pragma('user_version', { simple: true })).toBe(2);
    old.close();

    const db = openDatabase({ file });
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(columns(db, 'deploy_jobs')).toEqual(expect.arrayContaining(['key_id', 'signature', 'resumes']));
    const store = new DeployStore(db);
    expect(store.latest()).toMatchObject({ state: 'committed', version: 2, resumes: 0 });
    expect(store.document(store.latest()!.id)).toBeUndefined(); // recorded without its signature
    expect(store.installedVersion('ultraface', 'slim')).toBe(2);
    // The replay table kept its ids: the old command is still a replay.
    expect(new ReplayStore(db).claim('cmd-1', 'k', 5, 10)).toBe(false);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    // Opening again changes nothing.
    const again = openDatabase({ file });
    expect(again.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    again.close();
  });

  it('creates the tables on a version-2 database that never had them, and on a new one', () => {
    for (const start of [2, 0]) {
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'ea-mig-')), 'edge-agent.db');
      openDatabase({ file, migrations: MIGRATIONS.slice(0, start) }).close();
      const db = openDatabase({ file });
      const store = new DeployStore(db);
      const id = store.begin(
        { model: 'm', variant: 'v', version: 1 },
        { payload: '{}', keyId: 'k1', signature: 'c2ln' },
        1,
      );
      expect(store.document(id)).toEqual({ payload: '{}', keyId: 'k1', signature: 'c2ln' });
      expect(store.resumed(id)).toBe(1);
      expect(new ReplayStore(db).claim('x', 'k', 1, 2)).toBe(true);
      db.close();
    }
  });
});
