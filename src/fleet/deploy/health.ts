/** What the running pipeline says about the model it serves (a snapshot of counters and latency). */
export interface HealthSample {
  processed: number;
  failed: number;
  /** p95 inference latency over the recent window; undefined without samples. */
  latencyP95Ms: number | undefined;
}

export interface HealthRules {
  /** Latency allowed: baseline × this factor. */
  latencyFactor: number;
  /** Inferences the window must see to judge (fewer: judged on errors only). */
  minInferences: number;
}

/**
 * Commit or roll back after the health window. Baseline: the tuned figure when the tuner has
 * one, else the previous model's live p95. Pure.
 */
export function healthVerdict(
  start: HealthSample,
  end: HealthSample,
  baselineMs: number | undefined,
  rules: HealthRules,
): { ok: true; detail: string } | { ok: false; reason: string } {
  const failed = end.failed - start.failed;
  const processed = end.processed - start.processed;
  if (failed > 0) return { ok: false, reason: `${failed} inference error(s) in the health window` };
  if (processed < rules.minInferences)
    return {
      ok: true,
      detail: `${processed} inferences in the window (too few to judge latency); no errors`,
    };
  if (baselineMs !== undefined && end.latencyP95Ms !== undefined) {
    const limit = baselineMs * rules.latencyFactor;
    if (end.latencyP95Ms > limit)
      return {
        ok: false,
        reason: `p95 latency ${end.latencyP95Ms.toFixed(1)} ms exceeds ${limit.toFixed(1)} ms (baseline ${baselineMs.toFixed(1)} ms × ${rules.latencyFactor})`,
      };
  }
  return {
    ok: true,
    detail: `${processed} inferences, no errors, p95 ${end.latencyP95Ms?.toFixed(1) ?? '?'} ms`,
  };
}

/** What the health comparison found: the new variant against the previous one on the same live frames. */
export interface ComparisonReport {
  task: 'classification' | 'detection';
  fidelity: number;
  metric: string;
  frames: number;
  detection?: { referenceDetections: number; variantDetections: number };
}

export interface ComparisonRules {
  /** Fidelity below this → roll back (0: not checked). */
  minFidelity: number;
  /** New detections below this fraction of the previous variant's → collapse. */
  collapseRatio: number;
  /** The previous variant must have found at least this many objects on the frames to judge a collapse. */
  minReferenceDetections: number;
}

export const DEFAULT_COMPARISON_RULES: ComparisonRules = {
  minFidelity: 0.5,
  collapseRatio: 0.2,
  minReferenceDetections: 3,
};

/**
 * Commit or roll back on what the new variant does to the results: detections that collapse
 * (the previous variant found objects on the same frames, the new one ~none), or fidelity against
 * the previous variant below the floor. Pure.
 */
export function comparisonVerdict(
  r: ComparisonReport,
  rules: ComparisonRules,
): { ok: true; detail: string } | { ok: false; reason: string } {
  const on = `on ${r.frames} live frame${r.frames === 1 ? '' : 's'}`;
  if (r.detection) {
    const { referenceDetections: ref, variantDetections: got } = r.detection;
    if (ref >= rules.minReferenceDetections && got < rules.collapseRatio * ref)
      return {
        ok: false,
        reason: `detections collapsed: ${got} ${on} where the previous variant found ${ref} (below ${rules.collapseRatio} × ${ref})`,
      };
    // An empty scene says nothing about a detector's fidelity.
    if (ref < rules.minReferenceDetections)
      return {
        ok: true,
        detail: `the previous variant found ${ref} objects ${on}: too few to compare (${got} found by the new one)`,
      };
  }
  if (r.fidelity < rules.minFidelity)
    return {
      ok: false,
      reason: `fidelity ${r.fidelity.toFixed(2)} (${r.metric}) against the previous variant ${on} is below ${rules.minFidelity}`,
    };
  const counts = r.detection
    ? `, ${r.detection.variantDetections} detections vs ${r.detection.referenceDetections}`
    : '';
  return { ok: true, detail: `fidelity ${r.fidelity.toFixed(2)} (${r.metric}) ${on}${counts}` };
}
