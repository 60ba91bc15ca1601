import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { PolicyConfig } from '../config/policy.js';
import { errorMessage } from '../errors.js';
import type { DeviceProfile } from '../hardware/schema.js';
import type { GraphOptimization } from '../inference/session.js';
import type { Logger } from '../log.js';
import type { Catalog, ModelEntry } from '../models/catalog.js';
import { effectiveInputSpec } from '../models/manifest.js';
import {
  type DeriveJob,
  type DeriveSummary,
  deriveInChildProcess,
} from '../optimize/process/derive-process.js';
import { readMemAvailableMB } from '../optimize/process/memory-guard.js';
import { AGENT_LEAN_NODE_ARGS, agentRunsLean, inheritedJitNodeArgs, isLean } from '../service/memory-env.js';
import type { Benchmarks, Decisions } from '../store/records.js';
import { type Candidate, estimateMemoryBytes, planCandidates } from './candidates.js';
import { measuringMemory } from './child-memory.js';
import { constraintsFor, type PolicyOverrides } from './constraints.js';
import { chooseDerivations, chooseImprovements, type DerivationJob } from './derive-plan.js';
import type { EnergyMeter } from './energy-meter.js';
import { TunerFidelity } from './fidelity.js';
import {
  type BurstGate,
  DEFAULT_MEASURE_SETTINGS,
  type MeasureSettings,
  measureCandidates,
  type TuneProgress,
} from './measure.js';
import type { MeasureProcess, MeasureProcessOptions } from './measure-process.js';
import type { OpenJob } from './measure-protocol.js';
import { selectVariant } from './policy.js';
import type { PowerMode } from './power-mode.js';
import { type CandidateKey, candidateLabel, type Decision, type Measurement } from './types.js';

export interface TunerDeps {
  catalog: () => Catalog;
  /** Reloads the catalogue after a derivation added variants. */
  reloadCatalog?: () => Promise<Catalog>;
  profile: DeviceProfile;
  policy: PolicyConfig;
  modelsDir: string;
  dataDir: string;
  /** Frames for inputs and fidelity: the camera's image folder, else the bundled samples. */
  framesDir?: string | undefined;
  graphOptimization?: GraphOptimization;
  benchmarks?: Benchmarks | undefined;
  decisions?: Decisions | undefined;
  energy?: EnergyMeter | undefined;
  clock: Clock;
  log?: Logger | undefined;
  derive?: (job: DeriveJob, onProgress?: (p: TuneProgress) => void) => Promise<DeriveSummary>;
  spawn?: (options: MeasureProcessOptions) => MeasureProcess;
  /** MemAvailable now (bytes): the measuring children's cap leaves the device its share. */
  memAvailableBytes?: () => number | undefined;
  /**
   * Node arguments of the measuring children: default, the lean runtime's when the agent serves on it
   * (`agentRunsLean`: its inference worker interprets the per-frame JavaScript), else none.
   */
  measureNodeArgs?: readonly string[];
}

export interface TuneOptions {
  model: string;
  mode?: PowerMode;
  overrides?: PolicyOverrides;
  derive?: 'auto' | 'never';
  /** Re-measure even what is cached. */
  force?: boolean;
  current?: CandidateKey | null | undefined;
  /** Only these variants (tests, benches). */
  variants?: readonly string[];
  /** Override the configured measurement settings (benches, tests). */
  settings?: Partial<MeasureSettings>;
  burst?: BurstGate;
  onProgress?: (p: TuneProgress) => void;
  signal?: AbortSignal;
  trigger?: string;
  /** Only these derivation methods when deriving (tests, benches); all helpers when absent. */
  deriveMethods?: readonly string[];
  /** Record the decision in the store (default true when a store is given). */
  record?: boolean;
}

/** A stable hash of a model's catalogue entry: a new or changed variant file changes it. */
export function catalogueHash(entry: ModelEntry): string {
  const ids = entry.variants.map((v) => `${v.id}:${v.sha256}`).sort();
  // The common fidelity reference changes every fidelity, hence the decisions made on them.
  const ref = entry.manifest.fidelityReference;
  return createHash('sha256')
    .update(
      `${entry.manifest.name}\n${ids.join('\n')}${ref === undefined ? '' : `\nfidelity-reference:${ref}`}`,
    )
    .digest('hex')
    .slice(0, 16);
}

/**
 * What a cached measurement was made with. `per-frame`: its figures include preparing the frame
 * (earlier ones were `session.run` alone and are measured again rather than compared with these);
 * `lean`: on the lean runtime, where that preparation is interpreted.
 */
export function sessionKey(
  k: Pick<CandidateKey, 'executionProvider' | 'threads'>,
  graph: GraphOptimization,
  lean = false,
): string {
  return `${k.executionProvider}|t${k.threads}|g-${graph}|per-frame${lean ? '|lean' : ''}`;
}

/**
 * The tuner: plans the candidates of a model on this device, reads what the SQLite cache already
 * knows, measures the rest in child processes, measures missing fidelity, chooses with the pure
 * policy, derives helpers when nothing fits (policy.derive = auto) and records the decision.
 */
export class Tuner {
  private readonly fidelities: TunerFidelity;
  private readonly measureNodeArgs: readonly string[];

  constructor(private readonly deps: TunerDeps) {
    // The measuring child compiles JavaScript as the agent's worker does: lean, or the JIT's tier.
    this.measureNodeArgs =
      deps.measureNodeArgs ?? (agentRunsLean() ? AGENT_LEAN_NODE_ARGS : inheritedJitNodeArgs());
    this.fidelities = new TunerFidelity({
      benchmarks: deps.benchmarks,
      modelsDir: deps.modelsDir,
      dataDir: deps.dataDir,
      framesDir: deps.framesDir,
      frames: deps.policy.tuning.fidelityFrames,
      ortVersion: deps.profile.executionProviders.onnxruntimeVersion,
      spawn: deps.spawn,
    });
  }

  get fingerprint(): string {
    return this.deps.profile.fingerprint;
  }

  get ortVersion(): string {
    return this.deps.profile.executionProviders.onnxruntimeVersion;
  }

  private get graph(): GraphOptimization {
    return this.deps.graphOptimization ?? 'all';
  }

  private settings(o?: Partial<MeasureSettings>): MeasureSettings {
    const t = this.deps.policy.tuning;
    return {
      ...DEFAULT_MEASURE_SETTINGS,
      rounds: t.rounds,
      runsPerRound: t.runsPerRound,
      roundBudgetMs: t.roundBudgetMs,
      warmupRuns: t.warmupRuns,
      graphOptimization: this.graph,
      ...o,
    };
  }

  private benchKey(m: { variantSha256: string } & Pick<CandidateKey, 'executionProvider' | 'threads'>) {
    return {
      deviceFingerprint: this.deps.profile.fingerprint,
      variantSha256: m.variantSha256,
      sessionKey: sessionKey(m, this.graph, isLean(this.measureNodeArgs)),
      ortVersion: this.ortVersion,
    };
  }

  /** The catalogue hash of a model now (decisions record the one they were made on). */
  catalogueHash(model: string): string {
    return catalogueHash(this.deps.catalog().model(model));
  }

  /** Every measurement of a model the cache holds for this device (no measuring). */
  cached(model: string): Measurement[] {
    const entry = this.deps.catalog().model(model);
    const plan = planCandidates(entry, this.deps.profile, { maxThreads: this.deps.policy.tuning.maxThreads });
    const out: Measurement[] = [];
    for (const c of plan.candidates) {
      const hit = this.deps.benchmarks?.get<Measurement>(
        this.benchKey({ variantSha256: c.file.sha256, ...c }),
      );
      if (hit)
        out.push({
          ...hit.result,
          variant: c.variant,
          cached: true,
          ...this.fidelities.known(entry, c.file),
        });
    }
    return out;
  }

  /** A new decision from cached figures only (a power-mode change): undefined when nothing is cached. */
  redecide(options: Omit<TuneOptions, 'force' | 'derive' | 'settings'>): Decision | undefined {
    const started = this.deps.clock.now();
    const measurements = this.cached(options.model).filter(
      (m) => !options.variants || options.variants.includes(m.variant),
    );
    if (measurements.length === 0) return undefined;
    return this.finish(options, measurements, [], started);
  }

  async tune(options: TuneOptions): Promise<Decision> {
    const started = this.deps.clock.now();
    const derived: string[] = [];
    let measurements = await this.measureModel(options);
    let decision = this.finish({ ...options, record: false }, measurements, derived, started);
    const deriveMode = options.derive ?? this.deps.policy.derive;
    const wanted = (jobs: DerivationJob[]) =>
      jobs.filter((j) => !options.deriveMethods || options.deriveMethods.includes(j.method));
    /** Derives, measures what was derived and decides again over everything. */
    const deriveAndDecide = async (jobs: DerivationJob[]) => {
      const more = await this.deriveAll(wanted(jobs), options);
      if (more.length === 0) return;
      derived.push(...more);
      await this.deps.reloadCatalog?.();
      measurements = [...measurements, ...(await this.measureModel({ ...options, variants: more }))];
      decision = this.finish({ ...options, record: false }, measurements, derived, started);
    };
    const entry = () => this.deps.catalog().model(options.model);
    const auto = () => deriveMode === 'auto' && !options.signal?.aborted;
    // First the lossless and quick (input-uint8 of the choice, or of a variant its preparation alone
    // makes miss): it may meet the constraints without a slow int8 derivation. Then, still missed,
    // the derivations for a miss; then the same lossless step for what those led to.
    if (auto()) await deriveAndDecide(chooseImprovements(entry(), decision));
    if (auto() && !decision.met) {
      await deriveAndDecide(chooseDerivations(entry(), decision, this.deps.profile));
      if (auto()) await deriveAndDecide(chooseImprovements(entry(), decision));
    }
    return this.record(options, decision);
  }

  /** Derives each job in the derivation child; a failure is logged and reported, the rest go on. */
  private async deriveAll(jobs: DerivationJob[], options: TuneOptions): Promise<string[]> {
    const derived: string[] = [];
    for (const job of jobs) {
      if (options.signal?.aborted) break;
      options.onProgress?.({ stage: 'derive', method: job.method, variant: job.id });
      try {
        const derive =
          this.deps.derive ?? ((j: DeriveJob) => deriveInChildProcess(j, { signal: options.signal }));
        const r = await derive(
          {
            modelsDir: this.deps.modelsDir,
            dataDir: this.deps.dataDir,
            model: options.model,
            method: job.method,
            params: job.params,
            source: job.source,
            // The CLI derives with every core; beside a live pipeline (bursts gated) one thread,
            // so the camera keeps its share of the CPU while the derivation runs.
            threads: options.burst
              ? 1
              : Math.max(1, Math.floor(this.deps.profile.cpu.quotaCores ?? this.deps.profile.cpu.cores)),
            ...(this.deps.framesDir ? { calibration: { dir: this.deps.framesDir } } : {}),
          },
          options.onProgress,
        );
        derived.push(r.variant.id);
      } catch (err) {
        this.deps.log?.warn(
          { method: job.method, err: errorMessage(err) },
          'derivation for the tuner failed',
        );
        options.onProgress?.({ stage: 'failed', candidate: job.id, error: errorMessage(err) });
      }
    }
    return derived;
  }

  private finish(
    options: Omit<TuneOptions, 'force' | 'derive' | 'settings'>,
    measurements: Measurement[],
    derived: string[],
    started: number,
  ): Decision {
    const { profile, policy, clock } = this.deps;
    const mode = options.mode ?? 'mains';
    const constraints = constraintsFor(policy, mode, profile.memory.effectiveBudgetBytes, options.overrides);
    const selection = selectVariant(measurements, constraints, options.current ?? null);
    const entry = this.deps.catalog().model(options.model);
    const decision: Decision = {
      model: options.model,
      mode,
      ...selection,
      deviceFingerprint: profile.fingerprint,
      catalogueHash: catalogueHash(entry),
      ortVersion: this.ortVersion,
      derived,
      tookMs: clock.now() - started,
      decidedAt: clock.now(),
      trigger: options.trigger ?? 'cli',
    };
    options.onProgress?.({
      stage: 'decided',
      chosen: decision.chosen ? candidateLabel(decision.chosen) : null,
      met: decision.met,
    });
    return options.record === false ? decision : this.record(options, decision);
  }

  private record(options: { record?: boolean }, decision: Decision): Decision {
    if (options.record !== false && this.deps.decisions) {
      this.deps.decisions.add({
        model: decision.model,
        variant: decision.chosen?.variant ?? '',
        reason: decision.reason,
        record: decision,
      });
    }
    return decision;
  }

  private async measureModel(options: TuneOptions): Promise<Measurement[]> {
    const entry = this.deps.catalog().model(options.model);
    const subset = options.variants
      ? { ...entry, variants: entry.variants.filter((v) => options.variants!.includes(v.id)) }
      : entry;
    const constraints = constraintsFor(
      this.deps.policy,
      options.mode ?? 'mains',
      this.deps.profile.memory.effectiveBudgetBytes,
      options.overrides,
    );
    const knownMemoryBytes = (sha: string, ep: string) =>
      this.deps.benchmarks?.get<Measurement>(
        this.benchKey({ variantSha256: sha, executionProvider: ep, threads: 1 }),
      )?.result.memoryBytes;
    const plan = planCandidates(subset, this.deps.profile, {
      maxThreads: this.deps.policy.tuning.maxThreads,
      memoryBudgetBytes: constraints.memoryBudgetBytes,
      knownMemoryBytes,
    });
    const settings = this.settings(options.settings);
    const childMB = this.deps.policy.tuning.childMemoryMB;
    const memory = measuringMemory({
      budgetBytes: constraints.memoryBudgetBytes,
      explicitBytes: childMB !== undefined ? childMB * 1048576 : undefined,
      availableBytes: (this.deps.memAvailableBytes ?? memAvailableBytes)(),
      maxLiveProcesses: settings.maxLiveProcesses,
      largestNeedBytes: Math.max(
        0,
        ...plan.candidates.map(
          (c) => knownMemoryBytes(c.file.sha256, c.executionProvider) ?? estimateMemoryBytes(c.file.bytes),
        ),
      ),
    });
    const results = new Map<Candidate, Measurement>();
    const todo: Candidate[] = [];
    for (const c of plan.candidates) {
      let hit = options.force
        ? undefined
        : this.deps.benchmarks?.get<Measurement>(this.benchKey({ variantSha256: c.file.sha256, ...c }));
      // Over a cap before: still known not to fit under the same or a smaller cap; a larger one measures again.
      if (
        hit?.result.memoryExceeded &&
        (memory.capBytes ?? Number.POSITIVE_INFINITY) > (hit.result.memoryCapBytes ?? 0)
      )
        hit = undefined;
      if (hit)
        results.set(c, { ...hit.result, variant: c.variant, cached: true, measuredAt: hit.measuredAt });
      else todo.push(c);
    }
    options.onProgress?.({
      stage: 'plan',
      candidates: plan.candidates.length,
      cached: results.size,
      filtered: plan.filtered.length,
    });
    if (todo.length > 0) {
      const measured = await measureCandidates(
        todo,
        { ...settings, maxLiveProcesses: memory.maxLiveProcesses },
        {
          input: (c) => this.inputFor(c),
          memoryCapBytes: memory.capBytes,
          nodeArgs: this.measureNodeArgs,
          energy: this.deps.energy,
          ...(options.burst ? { burst: options.burst } : {}),
          ...(options.onProgress ? { onProgress: options.onProgress } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
          ...(this.deps.spawn ? { spawn: this.deps.spawn } : {}),
        },
      );
      todo.forEach((c, i) => {
        const m = { ...measured[i]!, measuredAt: this.deps.clock.now() };
        results.set(c, m);
        // Failures are not cached (a fixed file or runtime gets measured again), except "over the
        // memory cap": that holds while the cap does not grow.
        if (m.status === 'ok' || m.memoryExceeded) this.deps.benchmarks?.put(this.benchKey(m), m);
      });
    }
    const out: Measurement[] = [];
    for (const c of plan.candidates) {
      const m = results.get(c)!;
      out.push(
        m.status === 'ok'
          ? { ...m, ...(await this.fidelities.of(entry, c.file, options, memory.capBytes)) }
          : m,
      );
    }
    return [...out, ...plan.filtered];
  }

  /**
   * The first device frame for the candidate's input spec: the measuring child reads and prepares it
   * (decoding and resizing load sharp, which the serving agent otherwise never maps; docs/memory.md).
   */
  private async inputFor(c: Candidate): Promise<{ name: string; input: OpenJob['input'] }> {
    const spec = effectiveInputSpec(c.entry.manifest.input, c.file);
    return { name: spec.name, input: { frame: { framesDir: this.deps.framesDir, spec } } };
  }
}

function memAvailableBytes(): number | undefined {
  const mb = readMemAvailableMB();
  return mb === undefined ? undefined : mb * 1048576;
}
