import type { DeviceProfile } from '../hardware/schema.js';
import type { CatalogVariant, ModelEntry } from '../models/catalog.js';
import type { CandidateKey, Measurement } from './types.js';

/** One candidate to measure: a catalogue variant with its session options. */
export interface Candidate extends CandidateKey {
  entry: ModelEntry;
  file: CatalogVariant;
}

export interface CandidatePlan {
  /** What will be measured (or read from the cache). */
  candidates: Candidate[];
  /** Left out up front, as measurements with status `filtered` and the reason. */
  filtered: Measurement[];
}

export interface CandidateOptions {
  /** Highest thread count tried; 0 or absent = the cores (a CPU quota counts). */
  maxThreads?: number;
  /** Providers to try; absent = every working provider of the profile. */
  executionProviders?: readonly string[];
  memoryBudgetBytes?: number;
  /** Measured memory of a variant on a provider (from the cache), used instead of the estimate. */
  knownMemoryBytes?: (variantSha256: string, executionProvider: string) => number | undefined;
}

/** What the node process plus an onnxruntime session cost before any weights: measured ~55-70 MB here. */
export const RUNTIME_BASE_BYTES = 64 * 1048576;
/** Weights are held about twice (initializers + prepacked kernels) plus activations: ~3× the file. */
export const FILE_MEMORY_FACTOR = 3;

export function estimateMemoryBytes(fileBytes: number): number {
  return RUNTIME_BASE_BYTES + FILE_MEMORY_FACTOR * fileBytes;
}

/**
 * Thread counts worth trying on `cores` cores: all of 1..cores up to 4, then powers of two and the
 * core count (5, 6, 7 threads rarely beat 4 or 8 by a margin worth the measuring time).
 */
export function threadCounts(cores: number, maxThreads = 0): number[] {
  const limit = Math.max(1, maxThreads > 0 ? Math.min(maxThreads, cores) : cores);
  const out = new Set<number>();
  for (let t = 1; t <= limit; t++) if (t <= 4 || (t & (t - 1)) === 0 || t === limit) out.add(t);
  return [...out];
}

/**
 * Candidates = variants × working execution providers × thread counts. GPU providers get one
 * thread count (the intra-op pool does not run the model there). A candidate whose estimated (or
 * previously measured) memory exceeds the budget is filtered out with the reason. Pure.
 */
export function planCandidates(
  entry: ModelEntry,
  profile: Pick<DeviceProfile, 'cpu' | 'executionProviders'>,
  options: CandidateOptions = {},
): CandidatePlan {
  const available = profile.executionProviders.available;
  const providers = (options.executionProviders ?? available).filter((p) => available.includes(p));
  if (providers.length === 0) providers.push('cpu');
  const cores = Math.max(1, Math.floor(profile.cpu.quotaCores ?? profile.cpu.cores) || 1);
  const threads = threadCounts(cores, options.maxThreads);
  const candidates: Candidate[] = [];
  const filtered: Measurement[] = [];
  for (const file of entry.variants) {
    for (const executionProvider of providers) {
      const counts = executionProvider === 'cpu' ? threads : [1];
      for (const t of counts) {
        const key = { variant: file.id, executionProvider, threads: t };
        const budget = options.memoryBudgetBytes;
        const known = options.knownMemoryBytes?.(file.sha256, executionProvider);
        const need = known ?? estimateMemoryBytes(file.bytes);
        if (budget !== undefined && need > budget) {
          filtered.push({
            ...key,
            variantSha256: file.sha256,
            sizeBytes: file.bytes,
            precision: file.precision,
            status: 'filtered',
            error: `needs ~${mb(need)} (${known !== undefined ? 'measured before' : `estimate: ${FILE_MEMORY_FACTOR} × file + ${mb(RUNTIME_BASE_BYTES)} runtime`}), memory budget ${mb(budget)}`,
          });
          continue;
        }
        candidates.push({ ...key, entry, file });
      }
    }
  }
  return { candidates, filtered };
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1048576)} MB`;
}
