import { compareText } from '../collate.js';
import { type Measured, OBJECTIVES, type ScoreContext, type TieFigure } from './objectives.js';
import { paretoPoints } from './pareto.js';
import {
  type CandidateKey,
  type CandidateVerdict,
  type Constraints,
  candidateLabel,
  type Measurement,
  type Selection,
  sameCandidate,
} from './types.js';

/**
 * The selection policy (DESIGN.md "Choosing a variant"): a pure function of measurements,
 * constraints and the current choice. No I/O, no clock. Rules, in order:
 *
 * 1. A candidate fits when p95 ≤ the latency budget (the smaller of `latencyP95Ms` and
 *    1000 / `targetFps`), fidelity ≥ the floor and memory ≤ the budget.
 * 2. Among those that fit, the objective's score decides (lower is better). Candidates whose score
 *    is within the measured noise of the best are equal; the objective's tie-break, then fewer
 *    threads, then the smaller file, then the id decide among them (deterministic).
 * 3. Stability: the current choice is kept while it fits, unless a rival beats its score by more
 *    than the noise of both plus `switchMarginPercent` of its score. A stationary machine whose
 *    figures wobble therefore never flaps.
 * 4. When nothing fits: the closest candidate — least total relative violation (p95 over budget
 *    as a fraction of the budget + fidelity under the floor as a fraction of the floor + memory
 *    over budget as a fraction of the budget), then the objective's score. `met` is false and the
 *    reason says what is missed.
 */
export function selectVariant(
  measurements: readonly Measurement[],
  constraints: Constraints,
  current?: CandidateKey | null,
): Selection {
  const objective = OBJECTIVES[constraints.objective];
  const measured = measurements.filter(isMeasured);
  const ctx: ScoreContext = {
    energyBasis:
      measured.length > 0 && measured.every((m) => m.energyPerInferenceJ !== undefined) ? 'joules' : 'cpu-ms',
  };
  const budget = latencyBudgetMs(constraints);
  const unit = objective.unit(ctx);
  const show = (score: number) => fmt(objective.display(score));
  const info = new Map<Measured, { violations: string[]; distance: number; score: number; noise: number }>();
  for (const m of measured) {
    const v = violationsOf(m, constraints, budget);
    info.set(m, { ...v, score: objective.score(m, ctx), noise: objective.noise(m, ctx) });
  }
  const fits = measured.filter((m) => info.get(m)!.violations.length === 0);
  const order = (a: Measured, b: Measured) =>
    info.get(a)!.score - info.get(b)!.score || preference(a, b, objective.tie);
  const currentM = current ? measured.find((m) => sameCandidate(m, current)) : undefined;

  let chosen: Measured | undefined;
  let reason: string;
  let met = true;
  if (fits.length > 0) {
    const best = [...fits].sort(order)[0]!;
    const bestInfo = info.get(best)!;
    // Equal within noise: the preference order among them.
    const equals = fits.filter(
      (m) => info.get(m)!.score - bestInfo.score <= bestInfo.noise + info.get(m)!.noise,
    );
    const pick = [...equals].sort((a, b) => preference(a, b, objective.tie))[0]!;
    const curInfo = currentM ? info.get(currentM) : undefined;
    if (currentM && curInfo && curInfo.violations.length === 0 && !sameCandidate(currentM, pick)) {
      const gain = curInfo.score - bestInfo.score;
      const needed =
        curInfo.noise + bestInfo.noise + (Math.abs(curInfo.score) * constraints.switchMarginPercent) / 100;
      const tie = objective.tie;
      const pickInfo = info.get(pick)!;
      // Equal score (not worse beyond noise) but clearly better on the tie figure: e.g. under
      // max-accuracy a variant with the same fidelity that is faster per frame (an input-uint8
      // derivation of the current one). The same noise + margin guard as the score's.
      const tieGain = tie.value(currentM) - tie.value(pick);
      const tieNeeded =
        tie.noise(currentM) +
        tie.noise(pick) +
        (Math.abs(tie.value(currentM)) * constraints.switchMarginPercent) / 100;
      const notWorse = pickInfo.score <= curInfo.score + curInfo.noise + pickInfo.noise;
      if (gain > needed) {
        chosen = pick;
        reason = `${candidateLabel(pick)}: ${objective.id} ${show(pickInfo.score)} ${unit} beats the current ${candidateLabel(currentM)} (${show(curInfo.score)}) by more than noise + margin (${fmt(needed)})`;
      } else if (notWorse && tieGain > tieNeeded) {
        chosen = pick;
        reason = `${candidateLabel(pick)}: ${objective.id} equal to the current ${candidateLabel(currentM)} within noise (${show(pickInfo.score)} vs ${show(curInfo.score)} ${unit}), and its ${tie.name} ${fmt(tie.value(pick))} ${tie.unit} beats the current's ${fmt(tie.value(currentM))} by more than noise + margin (${fmt(tieNeeded)})`;
      } else {
        chosen = currentM;
        reason = `kept ${candidateLabel(currentM)}: it fits, and the best rival ${candidateLabel(best)} is better by ${fmt(gain)} ${unit}, within noise + margin (${fmt(needed)})`;
      }
    } else {
      chosen = pick;
      const why =
        currentM && curInfo && curInfo.violations.length > 0
          ? `; the current ${candidateLabel(currentM)} ${curInfo.violations.join(', ')}`
          : '';
      reason = `${candidateLabel(pick)}: best ${objective.id} (${show(info.get(pick)!.score)} ${unit}) of ${fits.length} candidate(s) that fit${equals.length > 1 ? ` (${equals.length} equal within noise; preferred by lower ${objective.tie.name}, fewer threads, smaller file)` : ''}${why}`;
    }
  } else if (measured.length > 0) {
    met = false;
    const byDistance = (a: Measured, b: Measured) =>
      info.get(a)!.distance - info.get(b)!.distance || order(a, b);
    const closest = [...measured].sort(byDistance)[0]!;
    const curInfo = currentM ? info.get(currentM) : undefined;
    chosen =
      currentM &&
      curInfo &&
      curInfo.distance <= info.get(closest)!.distance + constraints.switchMarginPercent / 100
        ? currentM
        : closest;
    reason = `nothing meets the constraints; closest is ${candidateLabel(chosen)} (${info.get(chosen)!.violations.join(', ')})${chosen === currentM && chosen !== closest ? ', kept as current (within the margin of the closest)' : ''}`;
  } else {
    met = false;
    reason = measurements.length === 0 ? 'no candidates' : 'no candidate could be measured';
  }

  const candidates: CandidateVerdict[] = measurements.map((m) => {
    if (m.status === 'failed' && m.memoryExceeded)
      return {
        ...m,
        verdict: 'violates',
        violations: [`memory > ${mb(m.memoryCapBytes ?? m.memoryBytes ?? 0)} (measuring cap)`],
        reason: `does not fit: its session needs more than the ${mb(m.memoryCapBytes ?? m.memoryBytes ?? 0)} its measuring process may use (${m.error ?? 'over the cap'})`,
      };
    if (m.status === 'failed')
      return { ...m, verdict: 'failed', reason: `measurement failed: ${m.error ?? 'unknown error'}` };
    if (m.status === 'filtered')
      return { ...m, verdict: 'filtered', reason: `not measured: ${m.error ?? 'filtered'}` };
    if (!isMeasured(m))
      return {
        ...m,
        verdict: 'failed',
        reason: 'incomplete measurement (no latency, CPU or fidelity figure)',
      };
    const i = info.get(m)!;
    const base = { ...m, score: i.score, noise: i.noise, violations: i.violations };
    if (chosen && sameCandidate(m, chosen)) return { ...base, verdict: 'chosen', reason };
    if (i.violations.length > 0) return { ...base, verdict: 'violates', reason: i.violations.join(', ') };
    const cmp = chosen ? i.score - info.get(chosen)!.score : 0;
    return {
      ...base,
      verdict: 'feasible',
      reason:
        cmp > 0
          ? `fits; ${objective.id} ${show(i.score)} ${unit} is worse than the choice by ${fmt(cmp)}`
          : `fits; ${objective.id} ${show(i.score)} ${unit} is not better than the choice by more than noise + margin (or loses the tie-break)`,
    };
  });

  const key = chosen
    ? { variant: chosen.variant, executionProvider: chosen.executionProvider, threads: chosen.threads }
    : null;
  return {
    chosen: key,
    met,
    reason,
    changed: !sameCandidate(key, current ?? null) && !!key,
    objective: constraints.objective,
    constraints,
    candidates,
    pareto: paretoPoints(measured),
  };
}

export function isMeasured(m: Measurement): m is Measured {
  return (
    m.status === 'ok' &&
    m.latencyMs !== undefined &&
    m.cpuMsPerInference !== undefined &&
    m.fidelity !== undefined
  );
}

/** The latency budget: the smaller of latencyP95Ms and the frame period of targetFps. */
export function latencyBudgetMs(c: Constraints): number | undefined {
  const fps = c.targetFps ? 1000 / c.targetFps : undefined;
  if (c.latencyP95Ms === undefined) return fps;
  return fps === undefined ? c.latencyP95Ms : Math.min(fps, c.latencyP95Ms);
}

function violationsOf(m: Measured, c: Constraints, budgetMs: number | undefined) {
  const violations: string[] = [];
  let distance = 0;
  if (budgetMs !== undefined && m.latencyMs.p95 > budgetMs) {
    violations.push(`p95 ${fmt(m.latencyMs.p95)} ms > budget ${fmt(budgetMs)} ms`);
    distance += m.latencyMs.p95 / budgetMs - 1;
  }
  if (m.fidelity < c.fidelityFloor) {
    violations.push(`fidelity ${fmt(m.fidelity)} < floor ${fmt(c.fidelityFloor)}`);
    distance += (c.fidelityFloor - m.fidelity) / Math.max(c.fidelityFloor, 1e-9);
  }
  if (
    c.memoryBudgetBytes !== undefined &&
    m.memoryBytes !== undefined &&
    m.memoryBytes > c.memoryBudgetBytes
  ) {
    violations.push(`memory ${mb(m.memoryBytes)} > budget ${mb(c.memoryBudgetBytes)}`);
    distance += m.memoryBytes / c.memoryBudgetBytes - 1;
  }
  return { violations, distance };
}

function preference(a: Measured, b: Measured, tie: TieFigure): number {
  return (
    tie.value(a) - tie.value(b) ||
    a.threads - b.threads ||
    a.sizeBytes - b.sizeBytes ||
    compareText(a.variant, b.variant) ||
    compareText(a.executionProvider, b.executionProvider)
  );
}

function fmt(n: number): string {
  const a = Math.abs(n);
  if (a === 0) return '0';
  if (a >= 100) return n.toFixed(0);
  if (a >= 1) return String(Number(n.toFixed(2)));
  return String(Number(n.toPrecision(3)));
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(0)} MB`;
}
