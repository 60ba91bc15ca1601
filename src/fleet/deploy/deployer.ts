import { rmSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Clock, isAbortError } from '../../clock.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { TrustedKey } from '../../trust/envelope.js';
import type { SignedDocument } from '../../trust/keys.js';
import { type CheckContext, type CheckLimits, type DeployChecks, validateDeployed } from './checks.js';
import type { CrashPoint } from './crash-points.js';
import { checkFreeSpace, fetchSignedFile } from './download.js';
import { DeployError } from './errors.js';
import type { HealthRules, HealthSample } from './health.js';
import { tuneBeforeSwitch, watchHealth } from './health-window.js';
import { checkDeployManifest, type DeployManifest } from './manifest.js';
import { type DeployPhase, planResume } from './resume.js';
import type { DeployJobRow, DeployState, DeployStore } from './state.js';

/** What the deployer needs from the agent: install a verified file, switch models, watch health. */
export interface DeployHost {
  /** Writes the verified file as variant `variantId` of `model` (atomically) and reloads the catalog. */
  install(manifest: DeployManifest, variantId: string, file: string): Promise<void>;
  active(): { model: string; variant: string } | undefined;
  switchTo(model: string, variant: string): Promise<void>;
  health(): HealthSample;
  /** Makes the committed variant the one the agent starts with (the config file), when there is one. */
  persist?(model: string, variant: string): Promise<void>;
  /** Deletes an installed variant (pruning); absent: nothing is pruned. */
  remove?(model: string, variantId: string): Promise<void>;
  /** The tuned latency figure for the active model when the tuner has one. */
  tunedLatencyMs?(): number | undefined;
  /** Frames, model views and the tuner for validation, tuning and the health comparison (checks.ts). */
  checks?: DeployChecks;
}

export interface DeployerDeps {
  deviceId: string;
  dataDir: string;
  keys: ReadonlyMap<string, TrustedKey>;
  clockSkewMs: number;
  store: DeployStore;
  host: DeployHost;
  clock: Clock;
  log: Logger;
  limits: {
    idleTimeoutMs: number;
    deadlineMs: number;
    validateTimeoutMs: number;
    validateHeapMB: number;
    healthWindowMs: number;
    keepVersions?: number;
  } & HealthRules &
    Omit<CheckLimits, 'validateTimeoutMs' | 'validateHeapMB'>;
  /** Progress events (the events topic) and info changes (the retained info). */
  progress?(data: Record<string, unknown>): void;
  /** TEST ONLY: called at the crash points (crash-points.ts); absent in production. */
  crash?(point: CrashPoint): void;
}

export interface UpdateInfo {
  state: DeployState | 'idle';
  progress: number;
  model?: string;
  variant?: string;
  installedVersion: number;
  latestVersion?: number;
  error?: string;
}

/**
 * One deployment at a time: verify → free space → download → inspect → validate (child process)
 * → install → switch → health window → commit, or roll back to the model that served before.
 * Every step is recorded in SQLite with the signed manifest, so a restart re-verifies it and
 * continues from the recorded step (`recover`); the active model is only changed by a complete,
 * validated file.
 */
export class Deployer {
  private running: Promise<UpdateInfo> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly deps: DeployerDeps) {}

  /**
   * After a restart: the newest unfinished deployment is re-verified from its stored signed
   * manifest and resumed from its recorded step (the partial download with a Range request);
   * older ones, and any that cannot resume (expired, key removed, given up), are reported with
   * the reason. Returns the resumed run, if any.
   */
  recover(): Promise<UpdateInfo> | undefined {
    const { store, log } = this.deps;
    const jobs = store.unfinished();
    const last = jobs.pop();
    for (const job of jobs)
      this.giveUp(job, 'interrupted', `agent stopped during ${job.state}; superseded`, {
        keepPart: !!last && this.partFile(job) === this.partFile(last),
      });
    if (this.running) return undefined;
    this.removeCommittedParts();
    if (!last) return undefined;
    const plan = planResume(last, store.document(last.id), (doc) => this.verify(doc));
    if (!plan.resume) {
      this.giveUp(last, plan.state, plan.reason);
      return undefined;
    }
    const resumes = store.resumed(last.id);
    log.info(
      { model: last.model, version: last.version, state: last.state, phase: plan.phase, resumes },
      'resuming deployment after restart',
    );
    this.deps.progress?.({ state: 'resuming', from: last.state, phase: plan.phase });
    return this.launch(last.id, plan.manifest, plan.phase);
  }

  /** Checks the manifest now (a refusal is the command's error); the rest runs in the background. */
  start(doc: SignedDocument): { accepted: DeployManifest; done: Promise<UpdateInfo> } {
    if (this.running) throw new DeployError('verify', 'a deployment is already running; one at a time');
    const verdict = this.verify(doc);
    if (!verdict.ok) throw new DeployError('verify', verdict.reason);
    const m = verdict.manifest;
    const id = this.deps.store.begin(m, doc, this.deps.clock.now());
    this.deps.log.info(
      { model: m.model, variant: m.variant, version: m.version, signedBy: verdict.signedBy },
      'deployment accepted',
    );
    return { accepted: m, done: this.launch(id, m, 'download') };
  }

  update(): UpdateInfo {
    const job = this.deps.store.latest();
    if (!job) return { state: 'idle', progress: 0, installedVersion: 0 };
    return {
      state: job.state,
      progress: job.progress,
      model: job.model,
      variant: job.variant,
      installedVersion: this.deps.store.installedVersion(job.model, job.variant),
      latestVersion: job.version,
      ...(job.error ? { error: job.error } : {}),
    };
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private verify(doc: SignedDocument) {
    return checkDeployManifest(doc, {
      deviceId: this.deps.deviceId,
      keys: this.deps.keys,
      nowMs: this.deps.clock.now(),
      clockSkewMs: this.deps.clockSkewMs,
      installedVersion: (m, v) => this.deps.store.installedVersion(m, v),
    });
  }

  private launch(id: number, m: DeployManifest, phase: DeployPhase): Promise<UpdateInfo> {
    const done = this.run(id, m, phase).finally(() => {
      this.running = undefined;
    });
    this.running = done;
    return done;
  }

  /** A job that will not continue: its state and reason recorded, its partial download removed. */
  private giveUp(
    job: DeployJobRow,
    state: DeployState,
    reason: string,
    opts: { keepPart?: boolean } = {},
  ): void {
    this.deps.store.update(job.id, state, this.deps.clock.now(), { error: reason });
    if (!opts.keepPart) rmSync(this.partFile(job), { force: true });
    // Installed but never committed: out of the catalog, so nothing (the tuner) picks it later.
    const variantId = `${job.variant}-v${job.version}`;
    const { host } = this.deps;
    if ((job.state === 'installing' || job.state === 'health') && host.active()?.variant !== variantId)
      void host
        .remove?.(job.model, variantId)
        .catch((err) =>
          this.deps.log.warn({ variantId, err: errorMessage(err) }, 'cannot remove the variant'),
        );
    this.deps.progress?.({ state, error: reason });
    this.deps.log.warn({ model: job.model, version: job.version, state, reason }, 'deployment not resumed');
  }

  /** Download files of committed versions (a crash between the commit and their removal). */
  private removeCommittedParts(): void {
    for (const v of this.deps.store.versions()) rmSync(this.partFile(v), { force: true });
  }

  private partFile(m: { model: string; variant: string; version: number }): string {
    return path.join(this.deps.dataDir, 'deploy', `${m.model}-${m.variant}-v${m.version}.part`);
  }

  /** Removes versions beyond `keepVersions` (a failure is logged: the deployment stays committed). */
  private async prune(model: string, variant: string): Promise<void> {
    const { host, store, limits, log } = this.deps;
    if (!host.remove || !limits.keepVersions) return;
    for (const v of store.beyond(model, variant, limits.keepVersions)) {
      try {
        await host.remove(model, v.variantId);
        store.remove(model, variant, v.version);
        log.info({ model, variantId: v.variantId }, 'pruned deployed version');
      } catch (err) {
        log.warn({ model, variantId: v.variantId, err: errorMessage(err) }, 'cannot prune deployed version');
      }
    }
  }

  private step(id: number, state: DeployState, progress?: number): void {
    this.deps.store.update(id, state, this.deps.clock.now(), progress === undefined ? {} : { progress });
    this.deps.progress?.({ state, ...(progress === undefined ? {} : { progress }) });
  }

  /** Space, download (resuming a partial file), checksum, static inspection, child validation. */
  private async fetchAndValidate(id: number, m: DeployManifest, part: string): Promise<void> {
    const { store, limits } = this.deps;
    await mkdir(path.dirname(part), { recursive: true });
    await checkFreeSpace(path.dirname(part), m.bytes * 2);
    this.step(id, 'downloading', 0);
    await fetchSignedFile(m, part, {
      ...limits,
      signal: this.abort.signal,
      onProgress: (p) => {
        store.progress(id, p);
        this.deps.progress?.({ state: 'downloading', progress: p });
      },
    });
    this.deps.crash?.('downloaded');
    this.step(id, 'validating', 1);
    // Loaded here: the ONNX protobuf decoder (onnx-proto, protobufjs; ~3 MB of V8 heap) is needed only
    // while a deployment is validated, not by a device that is serving.
    const { inspectDeployedModel } = await import('./inspect.js');
    inspectDeployedModel(await readFile(part), `${m.model} v${m.version}`);
    const validation = await validateDeployed(part, m, this.checkContext());
    this.deps.log.info(
      { model: m.model, version: m.version, validation },
      'deployment validated in a child process',
    );
  }

  /** What the checks (checks.ts, health-window.ts) work with. */
  private checkContext(): CheckContext & { limits: DeployerDeps['limits'] } {
    return {
      checks: this.deps.host.checks,
      limits: this.deps.limits,
      signal: this.abort.signal,
      log: this.deps.log,
    };
  }

  /** The health window on the switched-to model (health-window.ts); throws the reason when it fails. */
  private async healthWindow(id: number, job: Parameters<typeof watchHealth>[2]): Promise<string> {
    this.step(id, 'health');
    this.deps.crash?.('health');
    return watchHealth(this.deps.host, this.deps.clock, job, this.checkContext());
  }

  /**
   * Config first, then the version row and the job's `committed` in one transaction: a crash
   * between the two leaves the job `committing`, which a restart finishes (the config already
   * names the new model, whose health window passed).
   */
  private async commit(id: number, m: DeployManifest, variantId: string): Promise<void> {
    const { host, store, clock } = this.deps;
    this.step(id, 'committing');
    await host.persist?.(m.model, variantId);
    this.deps.crash?.('before-commit');
    store.commit(
      {
        model: m.model,
        variant: m.variant,
        version: m.version,
        variantId,
        sha256: m.sha256,
        installedAt: clock.now(),
      },
      { id, nowMs: clock.now() },
    );
  }

  private async run(id: number, m: DeployManifest, phase: DeployPhase): Promise<UpdateInfo> {
    const { host, log } = this.deps;
    const part = this.partFile(m);
    const variantId = `${m.variant}-v${m.version}`;
    let switchedFrom: { model: string; variant: string } | undefined;
    let installed = false;
    try {
      let detail = 'health window passed before a restart';
      if (phase === 'download') await this.fetchAndValidate(id, m, part);
      if (phase !== 'commit') {
        // The validated file must still be the signed one (re-hashed; fetched again only if gone).
        if (phase === 'install')
          await fetchSignedFile(m, part, { ...this.deps.limits, signal: this.abort.signal });
        this.step(id, 'installing');
        await host.install(m, variantId, part);
        installed = true;
        const before = host.active();
        const baseline = host.tunedLatencyMs?.() ?? host.health().latencyP95Ms;
        let tuned: Awaited<ReturnType<typeof tuneBeforeSwitch>>;
        if (before?.model !== m.model || before.variant !== variantId) {
          const ctx = this.checkContext();
          tuned = await tuneBeforeSwitch(m, variantId, before, baseline, ctx, this.deps.progress);
          await host.switchTo(m.model, variantId);
          switchedFrom = before;
          if (tuned) await host.checks?.adoptTuned?.(m.model, tuned);
        }
        detail = await this.healthWindow(id, {
          m,
          variantId,
          before: switchedFrom,
          baselineMs: tuned?.p95Ms ?? baseline,
        });
      }
      await this.commit(id, m, variantId);
      this.deps.progress?.({ state: 'committed', detail });
      log.info({ model: m.model, variantId, detail }, 'deployment committed');
      rmSync(part, { force: true });
      await this.prune(m.model, m.variant);
    } catch (err) {
      await this.fail(id, m, part, err, switchedFrom, installed ? variantId : undefined);
    }
    return this.update();
  }

  /** Rolls back a switch, removes what cannot be resumed, records and reports the reason. */
  private async fail(
    id: number,
    m: DeployManifest,
    part: string,
    err: unknown,
    switchedFrom: { model: string; variant: string } | undefined,
    /** The variant installed for this job, when it got that far. */
    installed?: string,
  ): Promise<void> {
    const { host, store, clock, log } = this.deps;
    if (this.abort.signal.aborted || isAbortError(err)) {
      // The agent is stopping: the job keeps its recorded step and resumes after the restart
      // (the agent starts on the configured model; the partial file stays).
      log.info({ model: m.model, version: m.version }, 'deployment paused: agent stopping');
      return;
    }
    host.checks?.pin?.(undefined);
    const message = errorMessage(err);
    let state: DeployState = 'failed';
    if (switchedFrom) {
      state = 'rolled-back';
      try {
        await host.switchTo(switchedFrom.model, switchedFrom.variant);
      } catch (rollbackErr) {
        log.error({ err: errorMessage(rollbackErr) }, 'rollback failed');
      }
    }
    // A variant refused after its install leaves the catalog, so no later tune can choose it.
    if (installed)
      await host
        .remove?.(m.model, installed)
        .catch((removeErr) =>
          log.warn(
            { variantId: installed, err: errorMessage(removeErr) },
            'cannot remove the refused variant',
          ),
        );
    // A retryable download failure keeps the partial file; anything else leaves nothing behind.
    if (!(err instanceof DeployError && err.retryable)) rmSync(part, { force: true });
    try {
      store.update(id, state, clock.now(), { error: message });
    } catch (storeErr) {
      // A full disk can refuse even this row; the event and the log still say why.
      log.error({ err: errorMessage(storeErr) }, 'cannot record the failed deployment');
    }
    this.deps.progress?.({ state, error: message });
    log.warn({ model: m.model, version: m.version, state, err: message }, 'deployment not committed');
  }
}
