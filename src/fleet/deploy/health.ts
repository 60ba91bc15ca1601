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
