import { errorMessage } from '../errors.js';
import type { CatalogVariant, ModelEntry } from '../models/catalog.js';
import type { Benchmarks } from '../store/records.js';
import type { BurstGate, TuneProgress } from './measure.js';
import { MeasureProcess, type MeasureProcessOptions } from './measure-process.js';
import type { Measurement } from './types.js';

const FIDELITY_KEY = 'fidelity';

export type FidelityFigures = Pick<
  Measurement,
  'fidelity' | 'fidelitySource' | 'fidelityReference' | 'error'
>;

/**
 * The variant a variant's fidelity is judged against when choosing: the model's common
 * `fidelityReference` when its manifest names one (families of separate exports — UltraFace's
 * slim-320, RFB-320, RFB-640 — each their own reference otherwise, all at fidelity 1), else the
 * variant's own `reference`; null when it is that reference itself. Pure.
 */
export function fidelityReferenceOf(entry: ModelEntry, v: CatalogVariant): string | null {
  const common = entry.manifest.fidelityReference;
  if (common !== undefined) return v.id === common ? null : common;
  return v.reference;
}

export interface TunerFidelityDeps {
  benchmarks?: Benchmarks | undefined;
  modelsDir: string;
  dataDir: string;
  framesDir?: string | undefined;
  frames: number;
  ortVersion: string;
  spawn?: ((options: MeasureProcessOptions) => MeasureProcess) | undefined;
}

/**
 * Fidelity for the tuner: 1 for the reference, the manifest's recorded figure when it was recorded
 * against that same reference, the cache, or measured now in a child on the device's frames
 * (`measureFidelity`: each variant preprocessed for its own input size, decoded to image-space
 * detections or classes, matched by IoU / top-1 against the reference's — never raw tensors).
 */
export class TunerFidelity {
  private readonly runs = new Map<string, Promise<FidelityFigures>>();

  constructor(private readonly deps: TunerFidelityDeps) {}

  /** What the manifest or the cache already knows, without measuring. */
  known(entry: ModelEntry, v: CatalogVariant): FidelityFigures {
    const ref = fidelityReferenceOf(entry, v);
    if (ref === null) return { fidelity: 1, fidelitySource: 'reference' };
    const against = { fidelityReference: ref };
    if (v.quality?.fidelity !== undefined && v.reference === ref)
      return { fidelity: v.quality.fidelity, fidelitySource: 'recorded', ...against };
    const hit = this.deps.benchmarks?.get<{ fidelity: number }>(this.key(entry, v, ref));
    return hit
      ? { fidelity: hit.result.fidelity, fidelitySource: 'measured', ...against }
      : { fidelitySource: 'unknown', ...against };
  }

  private key(entry: ModelEntry, v: CatalogVariant, refId: string) {
    const ref = entry.variants.find((x) => x.id === refId);
    return {
      deviceFingerprint: 'any', // fidelity depends on the files and frames, not on the device
      variantSha256: v.sha256,
      sessionKey: `${FIDELITY_KEY}|ref-${ref?.sha256.slice(0, 16) ?? 'none'}|frames-${this.deps.framesDir ?? 'samples'}|n${this.deps.frames}`,
      ortVersion: this.deps.ortVersion,
    };
  }

  /** Known, else measured now in a child (once per variant and reference; concurrent callers share it). */
  of(
    entry: ModelEntry,
    v: CatalogVariant,
    options: { burst?: BurstGate; signal?: AbortSignal; onProgress?: (p: TuneProgress) => void },
    capBytes?: number,
  ): Promise<FidelityFigures> {
    const known = this.known(entry, v);
    const ref = known.fidelityReference;
    if (known.fidelity !== undefined || ref === undefined) return Promise.resolve(known);
    const runKey = `${v.sha256}|${ref}`;
    let run = this.runs.get(runKey);
    if (!run) {
      run = (async () => {
        options.onProgress?.({ stage: 'fidelity', variant: v.id });
        // Two sessions (reference and variant) one after the other, both outputs kept: twice the cap.
        const spawnOptions = { memoryCapBytes: capBytes === undefined ? undefined : 2 * capBytes };
        const child = (this.deps.spawn ?? ((o: MeasureProcessOptions) => MeasureProcess.spawn(o)))(
          spawnOptions,
        );
        try {
          const gate = options.burst ?? ((fn) => fn());
          const r = await gate(
            () =>
              child.fidelity(
                {
                  modelsDir: this.deps.modelsDir,
                  dataDir: this.deps.dataDir,
                  model: entry.manifest.name,
                  variant: v.id,
                  reference: ref,
                  framesDir: this.deps.framesDir,
                  limit: this.deps.frames,
                },
                300_000,
                options.signal,
              ),
            options.signal,
          );
          this.deps.benchmarks?.put(this.key(entry, v, ref), r);
          return { fidelity: r.fidelity, fidelitySource: 'measured' as const, fidelityReference: ref };
        } catch (err) {
          return {
            fidelitySource: 'unknown' as const,
            fidelityReference: ref,
            error: `fidelity: ${errorMessage(err)}`,
          };
        } finally {
          child.kill();
        }
      })();
      this.runs.set(runKey, run);
    }
    return run;
  }
}
