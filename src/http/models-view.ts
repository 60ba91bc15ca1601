import type { ModelEntry } from '../models/catalog.js';
import type { LatencySummary } from '../telemetry/percentiles.js';

/** One row of the variants table and the accuracy-vs-latency chart. */
export interface VariantView {
  id: string;
  precision: string;
  bytes: number;
  derived: boolean;
  origin: string;
  default: boolean;
  active: boolean;
  reference: string | null;
  fidelity: number | undefined;
  accuracy: number | undefined;
  metric: string | undefined;
  /** Measured on this device: by this agent's pipeline, or figures handed in (`measurements`). */
  latencyP50Ms: number | undefined;
  latencyP95Ms: number | undefined;
  latencySamples: number;
  /** Input size and type (a uint8-input variant shows uint8 NHWC). */
  input: { width: number; height: number; dtype: string; layout: string };
}

export interface ModelView {
  name: string;
  task: string;
  description: string;
  license: string;
  defaultVariant: string;
  variants: VariantView[];
}

export type Measured = ReadonlyMap<string, LatencySummary>;

export const variantKey = (model: string, variant: string) => `${model}/${variant}`;

/** The catalog as the dashboard shows it (pure). */
export function modelsView(
  entries: readonly ModelEntry[],
  active: { model: string; variant: string },
  measured: Measured,
): ModelView[] {
  return entries.map((entry) => ({
    name: entry.manifest.name,
    task: entry.manifest.task,
    description: entry.manifest.description,
    license: entry.manifest.license,
    defaultVariant: entry.manifest.defaultVariant,
    variants: entry.variants.map((v) => {
      const m = measured.get(variantKey(entry.manifest.name, v.id));
      const input = { ...entry.manifest.input, ...(v.input ?? {}) };
      return {
        id: v.id,
        precision: v.precision,
        bytes: v.bytes,
        derived: v.derived,
        origin: v.origin.kind === 'shipped' ? 'shipped' : `derived (${v.origin.method})`,
        default: v.id === entry.manifest.defaultVariant,
        active: entry.manifest.name === active.model && v.id === active.variant,
        reference: v.reference,
        fidelity: v.quality?.fidelity,
        accuracy: v.quality?.accuracy,
        metric: v.quality?.metric,
        latencyP50Ms: m && m.count > 0 ? m.p50Ms : undefined,
        latencyP95Ms: m && m.count > 0 ? m.p95Ms : undefined,
        latencySamples: m?.count ?? 0,
        input: { width: input.width, height: input.height, dtype: input.dtype, layout: input.layout },
      };
    }),
  }));
}
