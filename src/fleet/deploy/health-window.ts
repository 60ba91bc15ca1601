import type { Clock } from '../../clock.js';
import {
  type CheckContext,
  compareWithPrevious,
  type DeployChecks,
  type TunedChoice,
  tuneDeployed,
} from './checks.js';
import { DeployError } from './errors.js';
import { type HealthRules, type HealthSample, healthVerdict } from './health.js';
import type { DeployManifest } from './manifest.js';

type Target = { model: string; variant: string };

/**
 * Before the switch: the deployment's variant is pinned for the tuner, which measures it (the
 * serving variant alike when it is of the same model) and may refuse it as too slow.
 */
export async function tuneBeforeSwitch(
  m: DeployManifest,
  variantId: string,
  before: Target | undefined,
  servingFigureMs: number | undefined,
  ctx: CheckContext,
  progress?: (data: Record<string, unknown>) => void,
): Promise<TunedChoice | undefined> {
  ctx.checks?.pin?.({ model: m.model, variant: variantId });
  if (ctx.checks?.tune) progress?.({ state: 'installing', detail: 'the tuner measures it' });
  return tuneDeployed(m, variantId, before, servingFigureMs, ctx);
}

/**
 * The health window on the switched-to variant: no inference errors; the window's own p95
 * (without the new session's warm-up) within the baseline (the tuner's figure for the new
 * variant, else the previous one's) × latencyFactor; then the previous and the new variant on the
 * same live frames kept during the window (collapse, fidelity). Returns the detail; throws the
 * reason to roll back.
 */
export async function watchHealth(
  host: { health(): HealthSample; checks?: DeployChecks | undefined },
  clock: Clock,
  job: { m: DeployManifest; variantId: string; before: Target | undefined; baselineMs: number | undefined },
  ctx: CheckContext & { limits: { healthWindowMs: number } & HealthRules },
): Promise<string> {
  const { limits } = ctx;
  const start = host.health();
  const count = limits.compareFrames ?? 8;
  const frames = host.checks?.collectFrames?.(count, limits.healthWindowMs / Math.max(1, count));
  try {
    await clock.sleep(limits.healthWindowMs, ctx.signal);
  } finally {
    void frames?.stop();
  }
  const end = host.health();
  const windowP95 = frames?.latencyP95Ms?.();
  const verdict = healthVerdict(
    start,
    windowP95 === undefined ? end : { ...end, latencyP95Ms: windowP95 },
    job.baselineMs,
    limits,
  );
  if (!verdict.ok) throw new DeployError('health', verdict.reason);
  const compared = await compareWithPrevious(
    job.before,
    { model: job.m.model, variant: job.variantId },
    (await frames?.stop()) ?? [],
    job.m,
    ctx,
  );
  if (!compared.ok) throw new DeployError('health', compared.reason);
  return `${verdict.detail}; ${compared.detail}`;
}
