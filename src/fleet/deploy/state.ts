import type { Db } from '../../store/database.js';
import type { SignedDocument } from '../../trust/keys.js';

export type DeployState =
  | 'verifying'
  | 'downloading'
  | 'validating'
  | 'installing'
  | 'health'
  | 'committing'
  | 'committed'
  | 'rolled-back'
  | 'failed'
  | 'interrupted';

export const TERMINAL: readonly DeployState[] = ['committed', 'rolled-back', 'failed', 'interrupted'];

export interface DeployJobRow {
  id: number;
  model: string;
  variant: string;
  version: number;
  state: DeployState;
  progress: number;
  error: string | null;
  startedAt: number;
  updatedAt: number;
  resumes: number;
}

export interface InstalledVersion {
  model: string;
  variant: string;
  version: number;
  variantId: string;
  sha256: string;
  installedAt: number;
  status: 'active' | 'previous' | 'superseded' | 'rolled-back';
}

/**
 * Deployments and installed versions in the agent's database (tables `deploy_jobs` and
 * `deploy_versions`, store migration 3). Every state change is one statement, so a crash leaves
 * the last state written.
 */
export class DeployStore {
  constructor(private readonly db: Db) {}

  /** Records an accepted manifest with its signature, so a restart can re-verify and resume it. */
  begin(m: { model: string; variant: string; version: number }, doc: SignedDocument, nowMs: number): number {
    return Number(
      this.db
        .prepare(
          `INSERT INTO deploy_jobs (model, variant, version, manifest, key_id, signature, state, started_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, 'verifying', ?, ?)`,
        )
        .run(m.model, m.variant, m.version, doc.payload, doc.keyId, doc.signature, nowMs, nowMs)
        .lastInsertRowid,
    );
  }

  /** The signed manifest of a job; undefined for jobs recorded before signatures were kept. */
  document(id: number): SignedDocument | undefined {
    const r = this.db.prepare('SELECT manifest, key_id, signature FROM deploy_jobs WHERE id = ?').get(id) as
      | { manifest: string; key_id: string | null; signature: string | null }
      | undefined;
    if (!r?.key_id || !r.signature) return undefined;
    return { payload: r.manifest, keyId: r.key_id, signature: r.signature };
  }

  /** Counts a resume after a restart; returns the new count. */
  resumed(id: number): number {
    this.db.prepare('UPDATE deploy_jobs SET resumes = resumes + 1 WHERE id = ?').run(id);
    return (this.db.prepare('SELECT resumes FROM deploy_jobs WHERE id = ?').get(id) as { resumes: number })
      .resumes;
  }

  update(
    id: number,
    state: DeployState,
    nowMs: number,
    extra: { progress?: number; error?: string } = {},
  ): void {
    this.db
      .prepare(
        'UPDATE deploy_jobs SET state = ?, progress = coalesce(?, progress), error = ?, updated_at = ? WHERE id = ?',
      )
      .run(state, extra.progress ?? null, extra.error ?? null, nowMs, id);
  }

  progress(id: number, progress: number): void {
    this.db.prepare('UPDATE deploy_jobs SET progress = ? WHERE id = ?').run(progress, id);
  }

  latest(): DeployJobRow | undefined {
    const r = this.db.prepare('SELECT * FROM deploy_jobs ORDER BY id DESC LIMIT 1').get() as
      | Record<string, unknown>
      | undefined;
    return r ? toJob(r) : undefined;
  }

  /** Jobs a killed agent left unfinished, oldest first (the deployer resumes or reports them). */
  unfinished(): DeployJobRow[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM deploy_jobs WHERE state NOT IN (${TERMINAL.map(() => '?').join(', ')}) ORDER BY id`,
      )
      .all(...TERMINAL) as Array<Record<string, unknown>>;
    return rows.map(toJob);
  }

  installedVersion(model: string, variant: string): number {
    const r = this.db
      .prepare(
        "SELECT max(version) AS v FROM deploy_versions WHERE model = ? AND variant = ? AND status != 'rolled-back'",
      )
      .get(model, variant) as { v: number | null };
    return r.v ?? 0;
  }

  /**
   * The new version becomes active; the one it replaces (if any) becomes previous; the job (when
   * given) becomes `committed`. One transaction.
   */
  commit(v: Omit<InstalledVersion, 'status'>, job?: { id: number; nowMs: number }): void {
    this.db.transaction(() => {
      if (job)
        this.db
          .prepare(
            "UPDATE deploy_jobs SET state = 'committed', progress = 1, error = NULL, updated_at = ? WHERE id = ?",
          )
          .run(job.nowMs, job.id);
      this.db
        .prepare(
          "UPDATE deploy_versions SET status = 'superseded' WHERE model = ? AND variant = ? AND status = 'previous'",
        )
        .run(v.model, v.variant);
      this.db
        .prepare(
          "UPDATE deploy_versions SET status = 'previous' WHERE model = ? AND variant = ? AND status = 'active'",
        )
        .run(v.model, v.variant);
      this.db
        .prepare(
          `INSERT OR REPLACE INTO deploy_versions (model, variant, version, variant_id, sha256, installed_at, status)
           VALUES (?, ?, ?, ?, ?, ?, 'active')`,
        )
        .run(v.model, v.variant, v.version, v.variantId, v.sha256, v.installedAt);
    })();
  }

  /** `rollback-model`: the active version is marked rolled back, the previous one active again. One transaction. */
  rollBack(active: InstalledVersion, previous: InstalledVersion): void {
    this.db.transaction(() => {
      this.markRolledBack(active.model, active.variant, active.version);
      this.commit({ ...previous });
    })();
  }

  markRolledBack(model: string, variant: string, version: number): void {
    this.db
      .prepare(
        "UPDATE deploy_versions SET status = 'rolled-back' WHERE model = ? AND variant = ? AND version = ?",
      )
      .run(model, variant, version);
  }

  versions(model?: string): InstalledVersion[] {
    const rows = (
      model
        ? this.db.prepare('SELECT * FROM deploy_versions WHERE model = ? ORDER BY version DESC').all(model)
        : this.db.prepare('SELECT * FROM deploy_versions ORDER BY model, variant, version DESC').all()
    ) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      model: String(r.model),
      variant: String(r.variant),
      version: Number(r.version),
      variantId: String(r.variant_id),
      sha256: String(r.sha256),
      installedAt: Number(r.installed_at),
      status: r.status as InstalledVersion['status'],
    }));
  }

  /** Versions of `model`/`variant` beyond the `keep` newest, never the active or previous one. */
  beyond(model: string, variant: string, keep: number): InstalledVersion[] {
    return this.versions(model)
      .filter((v) => v.variant === variant)
      .slice(keep)
      .filter((v) => v.status !== 'active' && v.status !== 'previous');
  }

  remove(model: string, variant: string, version: number): void {
    this.db
      .prepare('DELETE FROM deploy_versions WHERE model = ? AND variant = ? AND version = ?')
      .run(model, variant, version);
  }
}

function toJob(r: Record<string, unknown>): DeployJobRow {
  return {
    id: Number(r.id),
    model: String(r.model),
    variant: String(r.variant),
    version: Number(r.version),
    state: r.state as DeployState,
    progress: Number(r.progress),
    error: r.error === null ? null : String(r.error),
    startedAt: Number(r.started_at),
    resumes: Number(r.resumes ?? 0),
    updatedAt: Number(r.updated_at),
  };
}
