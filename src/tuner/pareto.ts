import type { Measured } from './objectives.js';
import type { ParetoPoint } from './types.js';

/**
 * Indices of the points no other point dominates, where smaller `cost` and larger `fidelity` are
 * better (a point dominates another when it is no worse on both and better on one). Pure.
 */
export function paretoFront(points: ReadonlyArray<{ cost: number; fidelity: number }>): number[] {
  const front: number[] = [];
  points.forEach((p, i) => {
    const dominated = points.some(
      (q, j) =>
        j !== i &&
        q.cost <= p.cost &&
        q.fidelity >= p.fidelity &&
        (q.cost < p.cost || q.fidelity > p.fidelity),
    );
    if (!dominated) front.push(i);
  });
  return front;
}

/** The two trade-off fronts of the measured candidates: latency vs fidelity and size vs fidelity. */
export function paretoPoints(measured: readonly Measured[]): ParetoPoint[] {
  const latency = new Set(
    paretoFront(measured.map((m) => ({ cost: m.latencyMs.p95, fidelity: m.fidelity }))),
  );
  const size = new Set(paretoFront(measured.map((m) => ({ cost: m.sizeBytes, fidelity: m.fidelity }))));
  const out: ParetoPoint[] = [];
  measured.forEach((m, i) => {
    const fronts: ParetoPoint['fronts'] = [];
    if (latency.has(i)) fronts.push('latency-fidelity');
    if (size.has(i)) fronts.push('size-fidelity');
    if (fronts.length === 0) return;
    out.push({
      variant: m.variant,
      executionProvider: m.executionProvider,
      threads: m.threads,
      latencyP95Ms: m.latencyMs.p95,
      fidelity: m.fidelity,
      sizeBytes: m.sizeBytes,
      fronts,
    });
  });
  return out;
}
