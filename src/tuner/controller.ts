import type { Clock } from '../clock.js';
import type { PolicyConfig } from '../config/policy.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { BurstStats } from './burst.js';
import { type PolicyOverrides, powerModeOptions } from './constraints.js';
import { DriftDetector } from './drift.js';
import type { BurstGate, TuneProgress } from './measure.js';
import { latencyBudgetMs } from './policy.js';
import { type PowerMode, type PowerReadings, powerMode } from './power-mode.js';
import type { TuneOptions, Tuner } from './tuner.js';
import {
  type CandidateKey,
  candidateLabel,
  type Decision,
  type Measurement,
  sameCandidate,
} from './types.js';

export interface TunerControllerDeps {
  /** Built on first use (it needs the device profile, whose provider probe takes a moment). */
  tuner: () => Promise<Tuner>;
  policy: () => PolicyConfig;
  /** The model the agent serves. */
  model: () => string;
  /** What runs now, when known. */
  active: () => CandidateKey | undefined;
  /** The hot swap (no frame lost); resolves true when something changed. */
  switchTo: (choice: CandidateKey) => Promise<boolean>;
  /** The newest recorded decision for this model, device and catalogue (the store). */
  cachedDecision: (tuner: Tuner, model: string) => Decision | undefined;
  events?: {
    emit(type: string, data: Record<string, unknown>, severity?: 'info' | 'warning' | 'error'): void;
  };
  /** Pauses the live pipeline around each measurement burst. */
  gate?: BurstGate;
  /** The gate's counters: one summary line per tune at info (each pause and resume is at debug). */
  bursts?: () => BurstStats;
  clock: Clock;
  log?: Logger;
}

/**
 * The tuner in the running agent. At start a cached decision for this fingerprint and catalogue
 * applies at once; otherwise the configured variant serves while a background tune measures in
 * bursts (the pipeline paused for each). Then:
 * - power-mode change (hysteresis in `powerMode`) → re-decide from the cache, no measuring;
 * - sustained latency drift (live p95 > tuned p95 × factor for a window) → re-measure, re-decide;
 * - sustained recovery (live p95 < tuned p95 ÷ factor) while a candidate missed the budget → the same;
 * - memory pressure → re-decide under the memory available now;
 * - a fleet command → tune.
 * A changed choice goes through the hot swap and becomes a `variant-changed` event with the reason.
 * One tune or re-decision at a time.
 */
export class TunerController {
  private decision: Decision | undefined;
  private mode: PowerMode | undefined;
  private readonly drift: DriftDetector;
  /** Whether a latency recovery may re-measure: not after a recovery's own decision. */
  private recoveryArmed = true;
  private chain: Promise<unknown> = Promise.resolve();
  private running: Promise<Decision | undefined> | undefined;
  private runningSince: { trigger: string; since: number } | undefined;
  private abort = new AbortController();
  /** The start in progress or done; `failed` when it could not start (no model yet). */
  private starting: Promise<{ failed: boolean }> | undefined;
  private memoryBudgetBytes: number | undefined;
  /** Set at run time (MQTT set-policy); applies to every later decision until the agent restarts. */
  private policyOverrides: PolicyOverrides = {};
  /** Deployed variants the tuner keeps to while they serve (model → variant id). */
  private readonly pins = new Map<string, string>();

  constructor(private readonly deps: TunerControllerDeps) {
    const t = deps.policy().tuning;
    this.drift = new DriftDetector({ factor: t.driftFactor, windowMs: t.driftWindowS * 1000 }, undefined);
  }

  /**
   * Keeps re-decisions to one variant of `model` while that variant serves (a fleet deployment's):
   * power-mode, drift, memory-pressure and start re-decisions then choose only its session
   * (execution provider, threads), never another variant, and derive nothing. It lapses once another
   * variant serves (rollback-model, set-model); undefined removes it.
   */
  pin(model: string, variant: string | undefined): void {
    if (variant === undefined) this.pins.delete(model);
    else this.pins.set(model, variant);
  }

  /** The variants re-decisions of `model` may choose among now (undefined: all). */
  pinned(model: string): string[] | undefined {
    const variant = this.pins.get(model);
    if (variant === undefined || this.deps.model() !== model) return undefined;
    return this.deps.active()?.variant === variant ? [variant] : undefined;
  }

  /** Applies a decision made with `tune({apply: false})` (the deployment's, once it switched). */
  adopt(d: Decision, trigger: string): Promise<void> {
    return this.serialised(() => this.apply(d, trigger));
  }

  /**
   * Puts back a decision that was in force before `adopt` (a deployment rolled back): nothing
   * switches (the rollback did), the drift baseline follows it.
   */
  reinstate(d: Decision | undefined): void {
    this.decision = d;
    this.recoveryArmed = true;
    const chosen = d?.chosen;
    this.drift.setBaseline(runP95(chosen ? d.candidates.find((x) => sameCandidate(x, chosen)) : undefined));
  }

  /** The tune running now (any trigger): what holds the model for the command router. */
  tuning(): { command: string; since: number } | undefined {
    const r = this.runningSince;
    return r ? { command: `tune (${r.trigger})`, since: r.since } : undefined;
  }

  /** The decision in force (undefined until the first one). */
  current(): Decision | undefined {
    return this.decision;
  }

  powerMode(): PowerMode {
    return this.mode ?? 'mains';
  }

  /**
   * Applies a cached decision or schedules the background tune; resolves once that is settled or
   * scheduled. Never throws: a tuner that cannot start leaves the configured variant serving.
   */
  async start(signal?: AbortSignal): Promise<void> {
    signal?.addEventListener('abort', () => this.abort.abort(), { once: true });
    this.starting = this.startOnce();
    await this.starting;
  }

  /**
   * Starts again after a start that failed — the agent started without a loadable model and one
   * has loaded since; otherwise nothing (a start in progress is waited for first).
   */
  async retryStart(): Promise<void> {
    const previous = await this.starting;
    if (!previous?.failed || this.abort.signal.aborted) return;
    this.starting = this.startOnce();
    await this.starting;
  }

  private async startOnce(): Promise<{ failed: boolean }> {
    try {
      await this.startInner();
      return { failed: false };
    } catch (err) {
      if (this.abort.signal.aborted) return { failed: false }; // the agent stopped meanwhile
      this.deps.log?.error({ err: errorMessage(err) }, 'tuner start failed; the configured variant serves');
      this.deps.events?.emit('tuning-failed', { trigger: 'agent-start', error: errorMessage(err) }, 'error');
      return { failed: true };
    }
  }

  private async startInner(): Promise<void> {
    const tuner = await this.deps.tuner();
    if (this.abort.signal.aborted) return;
    const cached = this.deps.cachedDecision(tuner, this.deps.model());
    if (cached) {
      this.deps.log?.info(
        { chosen: cached.chosen, decidedAt: cached.decidedAt },
        'cached tuner decision applies',
      );
      // The mode may differ from when it was recorded: re-decide from the cache (no measuring).
      const pinned = this.pinned(cached.model);
      const again = tuner.redecide({
        model: cached.model,
        ...(pinned ? { variants: pinned } : {}),
        mode: this.powerMode(),
        current: cached.chosen,
        trigger: 'agent-start (cached)',
        record: false,
      });
      await this.serialised(() =>
        this.apply(again ?? cached, 'agent-start: cached decision for this device and catalogue'),
      );
      return;
    }
    const { background, startDelayS } = this.deps.policy().tuning;
    this.deps.log?.info(
      { background, ...(background ? { tuneInS: startDelayS } : {}) },
      'tuner started: no cached decision for this device and catalogue',
    );
    if (!background) return;
    void this.deps.clock
      .sleep(startDelayS * 1000, this.abort.signal)
      .then(() => this.tune({ trigger: 'agent-start: no cached decision' }))
      .catch(() => undefined); // aborted (agent stopping) or failed (logged and emitted by tune)
  }

  stop(): Promise<void> {
    this.abort.abort();
    return this.chain.then(() => undefined);
  }

  /** A hardware sample: the power mode may change (battery, heat); a change re-decides from the cache. */
  onReadings(readings: PowerReadings): void {
    const next = powerMode(readings, this.mode, powerModeOptions(this.deps.policy()));
    const previous = this.mode;
    this.mode = next;
    if (previous !== undefined && previous !== next) this.redecideQuietly(`power-mode ${previous} → ${next}`);
  }

  /**
   * One live inference time. Sustained drift above the tuned p95 re-measures; so does sustained
   * drift below it (the tune was made on a busier machine) while that could change the choice — a
   * candidate lost on the latency budget — once per decision made otherwise (a recovery re-measure
   * that finds the machine no quieter does not repeat itself every window).
   */
  onInference(inferenceMs: number): void {
    if (this.running) return; // bursts pause the pipeline; their timings are not the steady state
    const drift = this.drift.add(this.deps.clock.now(), inferenceMs);
    if (drift === undefined) return;
    const { driftFactor, driftRecovery } = this.deps.policy().tuning;
    const live = this.drift.livePercentile95()?.toFixed(1);
    const tuned = this.drift.baseline?.toFixed(1);
    let trigger: string;
    if (drift === 'up') trigger = `${DRIFT_UP}: live p95 ${live} ms > ${driftFactor} × tuned ${tuned} ms`;
    else if (driftRecovery && this.recoveryArmed && lostOnLatency(this.decision)) {
      this.recoveryArmed = false;
      trigger = `${DRIFT_DOWN}: live p95 ${live} ms < tuned ${tuned} ms ÷ ${driftFactor}`;
    } else return;
    // A failed tune is logged and emitted by tune(); the variant in use keeps serving.
    this.tune({ force: true, trigger }).catch(() => undefined);
  }

  /** Memory pressure: re-decide with the budget limited to what is available now. */
  onMemoryPressure(active: boolean, availableBytes?: number): void {
    this.memoryBudgetBytes = active ? availableBytes : undefined;
    this.redecideQuietly(active ? 'memory pressure' : 'memory pressure over');
  }

  /**
   * A re-decision nobody awaits (a sampler event): its failure is logged and emitted, never left as
   * an unhandled rejection, which would end the agent's process.
   */
  private redecideQuietly(trigger: string): void {
    this.redecide(trigger).catch((err) => {
      this.deps.log?.error(
        { trigger, err: errorMessage(err) },
        're-decision failed; the current variant keeps serving',
      );
      this.deps.events?.emit('tuning-failed', { trigger, error: errorMessage(err) }, 'error');
    });
  }

  /**
   * The catalogue changed at run time (a derivation added a variant): once what runs now is done,
   * tune again if the decision in force was made on another catalogue — the cache answers for the
   * known candidates, only the new ones are measured (in bursts), and the stability rule decides
   * whether to switch. No derivation of its own (one just happened). Without a decision in force
   * the pending background tune covers it.
   */
  async catalogueChanged(trigger: string): Promise<Decision | undefined> {
    await this.settled();
    const model = this.deps.model();
    if (this.abort.signal.aborted || this.decision?.model !== model) return undefined;
    const tuner = await this.deps.tuner();
    if (tuner.catalogueHash(model) === this.decision.catalogueHash) return undefined;
    return this.tune({ trigger, derive: 'never' });
  }

  /** Re-decides from cached measurements; a full tune when nothing is cached. */
  redecide(trigger: string): Promise<Decision | undefined> {
    return this.serialised(async () => {
      const tuner = await this.deps.tuner();
      const pinned = this.pinned(this.deps.model());
      const d = tuner.redecide({
        model: this.deps.model(),
        ...(pinned ? { variants: pinned } : {}),
        mode: this.powerMode(),
        current: this.decision?.chosen ?? this.deps.active(),
        trigger,
        overrides: this.overrides(),
      });
      if (!d) return undefined;
      await this.apply(d, trigger);
      return d;
    });
  }

  /** A tune (measuring what is not cached, or everything with force); one at a time. */
  tune(
    options: {
      force?: boolean;
      trigger: string;
      overrides?: PolicyOverrides;
      derive?: 'auto' | 'never';
      model?: string;
      /** Only these variants (a deployment measuring its new variant); default: the pin, else all. */
      variants?: readonly string[];
      /** false: decide and record, but switch nothing (the caller adopts it later). */
      apply?: boolean;
    },
    onProgress?: (p: TuneProgress) => void,
  ): Promise<Decision | undefined> {
    if (this.running) return this.running;
    const run = this.serialised(async () => {
      const tuner = await this.deps.tuner();
      const model = options.model ?? this.deps.model();
      const variants = options.variants ?? this.pinned(model);
      const opts: TuneOptions = {
        model,
        ...(variants ? { variants, derive: 'never' as const } : {}),
        mode: this.powerMode(),
        current: this.decision?.chosen ?? this.deps.active(),
        trigger: options.trigger,
        overrides: { ...this.overrides(), ...options.overrides },
        force: options.force ?? false,
        ...(options.derive && !variants ? { derive: options.derive } : {}),
        signal: this.abort.signal,
        ...(this.deps.gate
          ? { burst: this.deps.gate, settings: { roundBudgetMs: this.deps.policy().tuning.burstMs } }
          : {}),
        ...(onProgress ? { onProgress } : {}),
      };
      this.deps.events?.emit('tuning-started', {
        trigger: options.trigger,
        model: opts.model,
        force: opts.force ?? false,
      });
      const before = this.deps.bursts?.();
      try {
        const d = await tuner.tune(opts);
        const bursts = before ? burstsSince(before, this.deps.bursts!()) : undefined;
        this.deps.log?.info(
          {
            trigger: options.trigger,
            chosen: d.chosen,
            met: d.met,
            tookMs: d.tookMs,
            ...(bursts ? { bursts } : {}),
          },
          'tuning done',
        );
        this.deps.events?.emit('tuning-done', {
          trigger: options.trigger,
          chosen: d.chosen,
          met: d.met,
          reason: d.reason,
          tookMs: d.tookMs,
          ...(bursts ? { bursts } : {}),
        });
        if (d.model === this.deps.model() && options.apply !== false) await this.apply(d, options.trigger);
        return d;
      } catch (err) {
        this.deps.log?.error({ err: errorMessage(err) }, 'tuning failed; the current variant keeps serving');
        this.deps.events?.emit(
          'tuning-failed',
          { trigger: options.trigger, error: errorMessage(err) },
          'error',
        );
        throw err;
      }
    });
    this.runningSince = { trigger: options.trigger, since: this.deps.clock.now() };
    this.running = run.finally(() => {
      this.running = undefined;
      this.runningSince = undefined;
    });
    return this.running;
  }

  private overrides(): PolicyOverrides {
    return {
      ...this.policyOverrides,
      ...(this.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: this.memoryBudgetBytes } : {}),
    };
  }

  /** Changes the objective / budgets at run time and re-decides from the cache (set-policy). */
  setPolicy(overrides: PolicyOverrides): Promise<Decision | undefined> {
    this.policyOverrides = { ...this.policyOverrides, ...overrides };
    return this.redecide(`set-policy ${JSON.stringify(overrides)}`);
  }

  policy(): PolicyOverrides {
    return { ...this.policyOverrides };
  }

  /** Resolves when the re-decisions and tunes queued so far are done (tests, shutdown). */
  settled(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch((err) => this.deps.log?.warn({ err: errorMessage(err) }, 'tuner step failed'));
    return next;
  }

  private async apply(d: Decision, trigger: string): Promise<void> {
    const previous = this.decision;
    this.decision = d;
    this.recoveryArmed = !trigger.startsWith(DRIFT_DOWN);
    const chosen = d.chosen;
    const c = chosen ? d.candidates.find((x) => sameCandidate(x, chosen)) : undefined;
    this.drift.setBaseline(runP95(c));
    if (!chosen) return;
    const active = this.deps.active();
    if (active && sameCandidate(active, chosen)) return;
    const changed = await this.deps.switchTo(chosen);
    if (!changed) return;
    this.deps.log?.info({ from: active, to: chosen, trigger, reason: d.reason }, 'variant changed');
    this.deps.events?.emit('variant-changed', {
      from: active ?? previous?.chosen ?? null,
      to: chosen,
      label: candidateLabel(chosen),
      trigger,
      mode: d.mode,
      objective: d.objective,
      met: d.met,
      reason: d.reason,
    });
  }
}

/** The bursts of one tune: how often and how long the pipeline was paused for it. */
function burstsSince(before: BurstStats, after: BurstStats) {
  const count = after.bursts - before.bursts;
  const pausedMs = Math.round(after.pausedMs - before.pausedMs);
  return { count, pausedMs, meanPauseMs: count > 0 ? Math.round(pausedMs / count) : 0 };
}

const DRIFT_UP = 'latency drift';
const DRIFT_DOWN = 'latency recovered';

/**
 * Whether a quieter machine could change the decision: a measured candidate (the chosen one or a
 * rival) is over the latency budget it was held to. Without one, every candidate already fits and
 * the choice would not move.
 */
function lostOnLatency(d: Decision | undefined): boolean {
  const budget = d?.constraints ? latencyBudgetMs(d.constraints) : undefined;
  if (!d || budget === undefined) return false;
  return d.candidates.some((c) => c.latencyMs !== undefined && c.latencyMs.p95 > budget);
}

/**
 * The drift watch's baseline: the session's share of the tuned per-frame p95 (the tuned figure
 * less its mean preparation). The live figure it is compared with is the inference time alone,
 * since how a frame is prepared depends on the source (an image folder resizes with sharp, a
 * capture process hands a ready canvas) and not on the load the watch is there to notice.
 */
function runP95(m: Measurement | undefined): number | undefined {
  if (!m?.latencyMs) return undefined;
  return Math.max(0, m.latencyMs.p95 - (m.prepareMs ?? 0));
}
