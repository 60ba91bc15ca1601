import { rmSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { type Clock, isAbortError } from '../../clock.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { TrustedKey } from '../../trust/envelope.js';
import type { SignedDocument } from '../../trust/keys.js';
import { type CheckLimits, type DeployChecks, validateDeployed } from './checks.js';
import { checkFreeSpace, downloadVerified } from './download.js';
import { DeployError } from './errors.js';
import type { HealthRules, HealthSample } from './health.js';
import { tuneBeforeSwitch, watchHealth } from './health-window.js';
import { inspectDeployedModel } from './inspect.js';
import { checkDeployManifest, type DeployManifest } from './manifest.js';
import type { DeployState, DeployStore } from './state.js';

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
 * Every step is recorded in SQLite; the active model is only changed by a complete, validated file.
 */
export class Deployer {
  private running: Promise<UpdateInfo> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly deps: DeployerDeps) {}

  /** Marks deployments a killed agent left unfinished; their partial downloads are kept for resuming. */
  recover(): void {
    for (const job of this.deps.store.unfinished()) {
      this.deps.store.update(job.id, 'interrupted', this.deps.clock.now(), {
        error: `agent stopped during ${job.state}; send the manifest again to resume`,
      });
      this.deps.log.warn(
        { model: job.model, version: job.version, state: job.state },
        'deployment interrupted',
      );
    }
  }

  /** Checks the manifest now (a refusal is the command's error); the rest runs in the background. */
  start(doc: SignedDocument): { accepted: DeployManifest; done: Promise<UpdateInfo> } {
    if (this.running) throw new DeployError('verify', 'a deployment is already running; one at a time');
    const verdict = checkDeployManifest(doc, {
      deviceId: this.deps.deviceId,
      keys: this.deps.keys,
      nowMs: this.deps.clock.now(),
      clockSkewMs: this.deps.clockSkewMs,
      installedVersion: (m, v) => this.deps.store.installedVersion(m, v),
    });
    if (!verdict.ok) throw new DeployError('verify', verdict.reason);
    const m = verdict.manifest;
    const id = this.deps.store.begin(m, doc.payload, this.deps.clock.now());
    this.deps.log.info(
      { model: m.model, variant: m.variant, version: m.version, signedBy: verdict.signedBy },
      'deployment accepted',
    );
    const done = this.run(id, m).finally(() => {
      this.running = undefined;
    });
    this.running = done;
    return { accepted: m, done };
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

  private async run(id: number, m: DeployManifest): Promise<UpdateInfo> {
    const { host, store, limits, clock, log } = this.deps;
    const dir = path.join(this.deps.dataDir, 'deploy');
    const part = path.join(dir, `${m.model}-${m.variant}-v${m.version}.part`);
    const variantId = `${m.variant}-v${m.version}`;
    let switchedFrom: { model: string; variant: string } | undefined;
    let installed = false;
    try {
      await mkdir(dir, { recursive: true });
      await checkFreeSpace(dir, m.bytes * 2);
      this.step(id, 'downloading', 0);
      let lastReport = 0;
      await downloadVerified({
        url: m.url,
        file: part,
        bytes: m.bytes,
        sha256: m.sha256,
        idleTimeoutMs: limits.idleTimeoutMs,
        deadlineMs: limits.deadlineMs,
        signal: this.abort.signal,
        onProgress: (n, total) => {
          const p = Math.round((n / total) * 100) / 100;
          if (p - lastReport >= 0.1) {
            lastReport = p;
            store.progress(id, p);
            this.deps.progress?.({ state: 'downloading', progress: p });
          }
        },
      });
      this.step(id, 'validating', 1);
      inspectDeployedModel(await readFile(part), `${m.model} v${m.version}`);
      const checks = { checks: host.checks, limits, signal: this.abort.signal, log };
      const validation = await validateDeployed(part, m, checks);
      log.info({ model: m.model, version: m.version, validation }, 'deployment validated in a child process');

      this.step(id, 'installing');
      await host.install(m, variantId, part);
      installed = true;
      const before = host.active();
      const baseline = host.tunedLatencyMs?.() ?? host.health().latencyP95Ms;
      const tuned = await tuneBeforeSwitch(m, variantId, before, baseline, checks, this.deps.progress);
      await host.switchTo(m.model, variantId);
      switchedFrom = before;
      if (tuned) await host.checks?.adoptTuned?.(m.model, tuned);

      this.step(id, 'health');
      const detail = await watchHealth(
        host,
        clock,
        { m, variantId, before, baselineMs: tuned?.p95Ms ?? baseline },
        checks,
      );
      // Config first: a crash between the two leaves the new model configured and the job
      // `interrupted` — never a committed version the agent would not start with.
      await host.persist?.(m.model, variantId);
      store.commit({
        model: m.model,
        variant: m.variant,
        version: m.version,
        variantId,
        sha256: m.sha256,
        installedAt: clock.now(),
      });
      store.update(id, 'committed', clock.now(), { progress: 1 });
      this.deps.progress?.({ state: 'committed', detail });
      log.info({ model: m.model, variantId, detail }, 'deployment committed');
      rmSync(part, { force: true });
      await this.prune(m.model, m.variant);
    } catch (err) {
      const message = isAbortError(err) ? 'agent stopping' : errorMessage(err);
      host.checks?.pin?.(undefined);
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
      if (installed && !isAbortError(err))
        await host
          .remove?.(m.model, variantId)
          .catch((removeErr) =>
            log.warn({ variantId, err: errorMessage(removeErr) }, 'cannot remove the refused variant'),
          );
      // A retryable download failure keeps the partial file; anything else leaves nothing behind.
      if (!(err instanceof DeployError && err.retryable)) rmSync(part, { force: true });
      store.update(id, state, clock.now(), { error: message });
      this.deps.progress?.({ state, error: message });
      log.warn({ model: m.model, version: m.version, state, err: message }, 'deployment not committed');
    }
    return this.update();
  }
}
