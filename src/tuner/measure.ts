import { errorMessage } from '../errors.js';
import type { GraphOptimization } from '../inference/session.js';
import type { Candidate } from './candidates.js';
import type { EnergyMeter } from './energy-meter.js';
import { MeasurementError, MeasureProcess, type MeasureProcessOptions } from './measure-process.js';
import type { OpenJob } from './measure-protocol.js';
import { type CandidateKey, candidateLabel, type Measurement } from './types.js';

export interface MeasureSettings {
  rounds: number;
  runsPerRound: number;
  roundBudgetMs: number;
  warmupRuns: number;
  graphOptimization: GraphOptimization;
  /** Children alive at once (each holds one session); candidates alternate within a group. */
  maxLiveProcesses: number;
  openTimeoutMs: number;
}

export const DEFAULT_MEASURE_SETTINGS: MeasureSettings = {
  rounds: 3,
  runsPerRound: 15,
  roundBudgetMs: 4000,
  warmupRuns: 3,
  graphOptimization: 'all',
  maxLiveProcesses: 4,
  openTimeoutMs: 120_000,
};

export type TuneProgress =
  | { stage: 'plan'; candidates: number; cached: number; filtered: number }
  | { stage: 'open'; candidate: string; done: number; total: number }
  | { stage: 'round'; round: number; rounds: number; candidate: string }
  | { stage: 'failed'; candidate: string; error: string }
  | { stage: 'fidelity'; variant: string }
  | { stage: 'derive'; method: string; variant: string }
  | { stage: 'decided'; chosen: string | null; met: boolean };

/** Runs `fn` as one measurement burst; the agent pauses its pipeline around it. */
/**
 * Runs `fn` as a burst (the live pipeline paused meanwhile). Aborted through `signal` (the agent
 * stopping), it neither waits for its turn nor pauses anything: it rejects at once.
 */
export type BurstGate = <T>(fn: () => Promise<T>, signal?: AbortSignal) => Promise<T>;

export interface MeasureDeps {
  /** The input of a candidate (a real frame, in the variant's input format, or prepared by the child). */
  input(candidate: Candidate): Promise<{ name: string; input: OpenJob['input'] }>;
  energy?: EnergyMeter | undefined;
  burst?: BurstGate;
  onProgress?: (p: TuneProgress) => void;
  signal?: AbortSignal;
  spawn?: (options: MeasureProcessOptions) => MeasureProcess;
  /** Memory a candidate's session may use (child-memory.ts); over it the candidate does not fit. */
  memoryCapBytes?: number | undefined;
  /** Node arguments of the measuring children (the lean runtime's when the agent runs on it). */
  nodeArgs?: readonly string[] | undefined;
}

interface Live {
  candidate: Candidate;
  child: MeasureProcess;
  sessionCreateMs: number;
  lean?: boolean | undefined;
  preparePath?: string | undefined;
  prepareMs: number;
  latencies: number[][];
  cpuMs: number[];
  energyJ: Array<number | undefined>;
  runs: number[];
  error?: string;
  memoryExceeded?: boolean;
}

/** Percentile by linear interpolation between closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (rank - lo);
}

/**
 * Measures candidates, each in its own child process. Children of a group stay open together and
 * the candidates alternate round by round, so the drift of a shared machine (another process, a
 * thermal ramp) hits all of them alike; every figure keeps its per-round spread. A candidate that
 * fails (model refused, process killed) is reported as failed and the others go on.
 */
export async function measureCandidates(
  candidates: readonly Candidate[],
  settings: MeasureSettings,
  deps: MeasureDeps,
): Promise<Measurement[]> {
  const gate: BurstGate = deps.burst ?? ((fn) => fn());
  const spawn = deps.spawn ?? ((o: MeasureProcessOptions) => MeasureProcess.spawn(o));
  const spawnOptions: MeasureProcessOptions = {
    memoryCapBytes: deps.memoryCapBytes,
    nodeArgs: deps.nodeArgs,
  };
  const out: Measurement[] = [];
  let opened = 0;
  for (let g = 0; g < candidates.length; g += settings.maxLiveProcesses) {
    const group = candidates.slice(g, g + settings.maxLiveProcesses);
    const live: Live[] = [];
    try {
      for (const candidate of group) {
        deps.onProgress?.({
          stage: 'open',
          candidate: candidateLabel(candidate),
          done: ++opened,
          total: candidates.length,
        });
        const l: Live = {
          candidate,
          child: spawn(spawnOptions),
          sessionCreateMs: 0,
          prepareMs: 0,
          latencies: [],
          cpuMs: [],
          energyJ: [],
          runs: [],
        };
        live.push(l);
        try {
          const input = await deps.input(candidate);
          const job: OpenJob = {
            path: candidate.file.path,
            sha256: candidate.file.sha256,
            bytes: candidate.file.bytes,
            inputName: input.name,
            input: input.input,
            executionProvider: candidate.executionProvider,
            threads: candidate.threads,
            graphOptimization: settings.graphOptimization,
            warmupRuns: settings.warmupRuns,
          };
          const ready = await gate(() => l.child.open(job, settings.openTimeoutMs, deps.signal), deps.signal);
          l.sessionCreateMs = ready.sessionCreateMs;
          l.preparePath = ready.preparePath;
          l.lean = ready.lean;
        } catch (err) {
          fail(l, err, deps);
        }
      }
      for (let round = 1; round <= settings.rounds; round++) {
        for (const l of live) {
          if (l.error || deps.signal?.aborted) continue;
          deps.onProgress?.({
            stage: 'round',
            round,
            rounds: settings.rounds,
            candidate: candidateLabel(l.candidate),
          });
          try {
            const { burst, joules } = await gate(async () => {
              const token = deps.energy ? await deps.energy.begin() : undefined;
              const burst = await l.child.burst(settings.runsPerRound, settings.roundBudgetMs, deps.signal);
              const joules = deps.energy ? await deps.energy.end(token) : undefined;
              return { burst, joules };
            }, deps.signal);
            l.latencies.push(burst.latenciesMs);
            l.prepareMs += burst.prepareMs ?? 0;
            l.runs.push(burst.latenciesMs.length);
            l.cpuMs.push(burst.cpuMs / burst.latenciesMs.length);
            l.energyJ.push(joules === undefined ? undefined : joules / burst.latenciesMs.length);
          } catch (err) {
            fail(l, err, deps);
          }
        }
      }
      for (const l of live) {
        let memory: { peakRssBytes: number; baselineRssBytes: number } | undefined;
        if (!l.error) {
          try {
            memory = await l.child.finish(deps.signal);
          } catch (err) {
            fail(l, err, deps);
          }
        }
        out.push(figures(l, memory, deps.energy?.source, deps.memoryCapBytes));
      }
    } finally {
      for (const l of live) l.child.kill();
    }
  }
  return out;
}

function fail(l: Live, err: unknown, deps: MeasureDeps): void {
  l.error = errorMessage(err);
  if (err instanceof MeasurementError && err.memoryExceeded) l.memoryExceeded = true;
  l.child.kill();
  deps.onProgress?.({ stage: 'failed', candidate: candidateLabel(l.candidate), error: l.error });
}

function figures(
  l: Live,
  memory: { peakRssBytes: number; baselineRssBytes: number } | undefined,
  energySource: string | undefined,
  memoryCapBytes: number | undefined,
): Measurement {
  const c = l.candidate;
  const key: CandidateKey = {
    variant: c.variant,
    executionProvider: c.executionProvider,
    threads: c.threads,
  };
  const base = { ...key, variantSha256: c.file.sha256, sizeBytes: c.file.bytes, precision: c.file.precision };
  if (l.memoryExceeded && memoryCapBytes !== undefined)
    // Does not fit: its session needs more than the cap (a lower bound on what it needs).
    return {
      ...base,
      status: 'failed',
      memoryExceeded: true,
      memoryBytes: memoryCapBytes,
      memoryCapBytes,
      error: l.error ?? 'over its memory cap',
    };
  if (l.error || l.latencies.length === 0)
    return { ...base, status: 'failed', error: l.error ?? 'no runs completed' };
  const all = l.latencies.flat();
  const runs = all.length;
  const cpuTotal = l.cpuMs.reduce((s, v, i) => s + v * l.runs[i]!, 0);
  const energy = l.energyJ.every((e) => e !== undefined)
    ? (l.energyJ as number[]).reduce((s, v, i) => s + v * l.runs[i]!, 0) / runs
    : undefined;
  return {
    ...base,
    status: 'ok',
    latencyMs: {
      p50: percentile(all, 50),
      p95: percentile(all, 95),
      p99: percentile(all, 99),
      mean: all.reduce((a, b) => a + b, 0) / runs,
      roundP95: l.latencies.map((r) => percentile(r, 95)),
    },
    sessionCreateMs: l.sessionCreateMs,
    runs,
    ...(l.preparePath !== undefined ? { preparePath: l.preparePath, prepareMs: l.prepareMs / runs } : {}),
    ...(l.lean ? { lean: true } : {}),
    ...(memory
      ? {
          memoryBytes: Math.max(0, memory.peakRssBytes - memory.baselineRssBytes),
          processPeakRssBytes: memory.peakRssBytes,
        }
      : {}),
    cpuMsPerInference: cpuTotal / runs,
    roundCpuMs: l.cpuMs,
    ...(energy !== undefined
      ? {
          energyPerInferenceJ: energy,
          roundEnergyJ: l.energyJ as number[],
          ...(energySource ? { energySource } : {}),
        }
      : {}),
  };
}
