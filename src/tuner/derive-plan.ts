import type { DeviceProfile } from '../hardware/schema.js';
import type { ModelEntry } from '../models/catalog.js';
import { effectiveInputSpec } from '../models/manifest.js';
import { type Method, normalizeParams, variantIdFor } from '../optimize/methods/index.js';
import { normalisesInJavaScript } from '../pipeline/normalise.js';
import type { Selection } from './types.js';

export interface DerivationJob {
  method: Method;
  params: Record<string, unknown>;
  source: string;
  /** The id the derived variant will have. */
  id: string;
  why: string;
}

/**
 * Derivations likely to help when nothing fits, from the model's common fidelity reference, else
 * its first own reference (or the first variant): for a
 * latency or memory miss `clean` (folds and fuses: UltraFace ~3× faster losslessly here),
 * `int8-static` with the fidelity floor (its sensitivity fallback keeps the floor), `input-uint8`
 * (the model takes camera bytes); `fp16` only where a GPU provider works (on CPUs it is
 * size-only). A fidelity miss alone has no derivation that helps: they never raise fidelity.
 * Variants that already exist are not derived again. Pure.
 */
export function chooseDerivations(
  entry: ModelEntry,
  selection: Pick<Selection, 'candidates' | 'constraints'>,
  profile: Pick<DeviceProfile, 'executionProviders'>,
): DerivationJob[] {
  const measured = selection.candidates.filter((c) => c.violations !== undefined);
  const latencyOrMemory = measured.some((c) =>
    c.violations!.some((v) => v.startsWith('p95') || v.startsWith('memory')),
  );
  const anyFilteredForMemory = selection.candidates.some((c) => c.verdict === 'filtered');
  if (!latencyOrMemory && !anyFilteredForMemory) return [];
  // The common fidelity reference when the manifest names one: int8's floor is then kept against the
  // variant the tuner judges by (from a smaller export it could never reach that floor).
  const common = entry.manifest.fidelityReference;
  const source =
    (common !== undefined ? entry.variants.find((v) => v.id === common) : undefined) ??
    entry.variants.find((v) => v.reference === null && !v.derived) ??
    entry.variants[0]!;
  const gpu = profile.executionProviders.available.some((p) => p !== 'cpu');
  const wanted: Array<{ method: Method; raw: Record<string, unknown>; why: string }> = [
    { method: 'clean', raw: {}, why: 'folds constants and fuses nodes: faster at identical outputs' },
    {
      method: 'int8-static',
      raw: { floor: selection.constraints.fidelityFloor },
      why: 'int8 kernels, with the fidelity floor kept by the sensitivity fallback',
    },
    { method: 'input-uint8', raw: {}, why: 'takes camera bytes directly (normalisation inside the graph)' },
  ];
  if (gpu) wanted.push({ method: 'fp16', raw: {}, why: 'half-precision kernels on the GPU provider' });
  const existing = new Set(entry.variants.map((v) => v.id));
  const jobs: DerivationJob[] = [];
  for (const w of wanted) {
    const params = normalizeParams(w.method, w.raw);
    const id = variantIdFor(source.id, w.method, params);
    if (existing.has(id)) continue;
    jobs.push({
      method: w.method,
      params: params as Record<string, unknown>,
      source: source.id,
      id,
      why: w.why,
    });
  }
  return jobs;
}

/**
 * Derivations that serve a variant's own outputs for less work per frame, whether or not the
 * constraints are met: today `input-uint8` of a variant whose input the pipeline normalises in
 * JavaScript (a float NCHW model with a mean/std) — the graph then takes camera bytes (uint8 NHWC,
 * the capture's frame as it comes) and normalises inside onnxruntime. For the chosen variant, and
 * for any measured one that misses only the latency budget (on the lean runtime the interpreted
 * loop alone is half of slim-320's 27 ms; on a loaded machine how much of a miss is preparation
 * cannot be told from one measurement, so the derived variant is measured instead).
 * Lossless up to float rounding; its fidelity is measured like any variant's and the policy decides
 * (an equal score and a clearly better tie figure replaces the current choice). Nothing for a
 * variant whose derivation exists. Pure.
 */
export function chooseImprovements(
  entry: ModelEntry,
  selection: Pick<Selection, 'chosen' | 'candidates' | 'constraints'>,
): DerivationJob[] {
  const wanted = new Set<string>();
  if (selection.chosen) wanted.add(selection.chosen.variant);
  for (const c of selection.candidates) {
    const v = c.violations;
    if (v && v.length > 0 && v.every((x) => x.startsWith('p95'))) wanted.add(c.variant);
  }
  const existing = new Set(entry.variants.map((v) => v.id));
  const params = normalizeParams('input-uint8', {});
  const jobs: DerivationJob[] = [];
  for (const variant of entry.variants) {
    if (!wanted.has(variant.id)) continue;
    const spec = effectiveInputSpec(entry.manifest.input, variant);
    if (spec.layout !== 'NCHW' || !normalisesInJavaScript(spec)) continue;
    const id = variantIdFor(variant.id, 'input-uint8', params);
    if (existing.has(id)) continue;
    jobs.push({
      method: 'input-uint8',
      params: params as Record<string, unknown>,
      source: variant.id,
      id,
      why: 'normalised in JavaScript every frame: the same model taking camera bytes does it in the graph',
    });
  }
  return jobs;
}
