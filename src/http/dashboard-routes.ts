import type { FastifyInstance } from 'fastify';
import { formatZodIssues } from '../fleet/router.js';
import { inferenceJson } from '../inference/json.js';
import type { HistoryPoint } from '../store/metrics.js';
import * as z from '../zod.js';
import type { MjpegBroadcaster } from './stream.js';

/** Telemetry fields the dashboard charts, from the metrics history in SQLite. */
export const HISTORY_FIELDS = [
  'fps',
  'latencyInferenceP50Ms',
  'latencyInferenceP95Ms',
  'latencyTotalP50Ms',
  'latencyTotalP95Ms',
] as const;

export interface DashboardDeps {
  /** A numeric telemetry field over [fromMs, toMs] (the store's MetricsStore.history). */
  history?: (field: string, fromMs: number, toMs: number) => HistoryPoint[];
  now: () => number;
}

const historyQuery = z.strictObject({
  minutes: z._default(z.coerce.number().check(z.positive(), z.maximum(24 * 60)), 10),
});

/**
 * Columns of a uPlot data set: the union of the fields' timestamps (seconds) and each field's
 * value at each (null where it has none). Telemetry samples carry all fields at once, so the
 * columns line up. Pure.
 */
export function historyColumns(
  byField: Record<string, HistoryPoint[]>,
): { t: number[] } & Record<string, Array<number | null>> {
  const times = [...new Set(Object.values(byField).flatMap((ps) => ps.map((p) => p.ts)))].sort(
    (a, b) => a - b,
  );
  const columns: Record<string, Array<number | null>> = {};
  for (const [field, points] of Object.entries(byField)) {
    const at = new Map(points.map((p) => [p.ts, p.avg]));
    columns[field] = times.map((ts) => at.get(ts) ?? null);
  }
  return { ...columns, t: times.map((ts) => ts / 1000) };
}

/**
 * The dashboard's own reads: the charts' recent history and the latest annotated frame together
 * with its result. (Its controls are the controls feature's routes: src/features/controls.ts.)
 */
export function registerDashboardRoutes(app: FastifyInstance, deps: DashboardDeps, stream: MjpegBroadcaster) {
  app.get('/api/metrics/history', async (req, reply) => {
    const parsed = historyQuery.safeParse(req.query);
    if (!parsed.success) return reply.code(400).send({ error: formatZodIssues(parsed.error) });
    if (!deps.history) return { fields: HISTORY_FIELDS, t: [] };
    const to = deps.now();
    const from = to - parsed.data.minutes * 60_000;
    const byField = Object.fromEntries(HISTORY_FIELDS.map((f) => [f, deps.history!(f, from, to)]));
    return { fields: HISTORY_FIELDS, ...historyColumns(byField) };
  });

  app.get('/api/live/frame', async (_req, reply) => {
    const latest = stream.latestFrame();
    if (!latest) return reply.code(404).send({ error: 'no annotated frame yet (it comes within a second)' });
    return {
      seq: latest.result.seq,
      capturedAtMs: latest.result.capturedAtMs,
      origin: latest.result.origin,
      result: inferenceJson(latest.result),
      jpegBase64: latest.jpeg.toString('base64'),
    };
  });
}
