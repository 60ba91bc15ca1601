import type { FastifyInstance } from 'fastify';
import { type Fault, healthStatus } from '../health/faults.js';
import type { FrameListener, FrameResult, PipelineStats, ResultListener } from '../pipeline/pipeline.js';
import type { DeviceReadings } from './metrics.js';
import type { MjpegBroadcaster } from './stream.js';

/** What the HTTP layer reads from the pipeline (the Pipeline class provides it). */
export interface HttpPipeline {
  stats(): PipelineStats;
  latest(): FrameResult | undefined;
  onResult(listener: ResultListener): () => void;
  /** Results with pixels: the stream subscribes only while someone watches. */
  onFrame(listener: FrameListener): () => void;
}

export interface RouteDeps {
  pipeline: HttpPipeline;
  getReadings?: () => Promise<DeviceReadings | undefined>;
  /** What is degraded right now (disk full, camera missing, model fallback, ...); none when absent. */
  faults?: () => readonly Fault[];
  version: string;
  deviceId?: string;
  startedAtMs: number;
  now: () => number;
}

/**
 * The serving core of the JSON API: health, status, the latest result and the stream. Feature
 * modules (src/features/) add theirs (models, decision, profile, infer). Errors become
 * `{ error }` with a status by the server's error handler.
 */
export function registerApi(app: FastifyInstance, deps: RouteDeps, stream: MjpegBroadcaster) {
  // Liveness stays 200 while degraded: the process serves what works, a restart would not help.
  app.get('/healthz', async () => {
    const s = deps.pipeline.stats();
    const faults = deps.faults?.() ?? [];
    return { status: healthStatus(faults), pipeline: s.state, camera: s.camera.state, faults };
  });

  app.get('/api/status', async () => {
    const s = deps.pipeline.stats();
    const readings = deps.getReadings ? await deps.getReadings() : undefined;
    return {
      version: deps.version,
      ...(deps.deviceId ? { deviceId: deps.deviceId } : {}),
      uptimeS: Math.round((deps.now() - deps.startedAtMs) / 1000),
      model: s.model,
      camera: s.camera,
      pipeline: {
        state: s.state,
        pacing: s.pacing,
        counters: s.counters,
        fps: s.fps,
        captureFps: s.captureFps,
        latency: s.latency,
        eventLoopLag: s.eventLoopLag,
        preparePath: s.preparePath,
        lastError: s.lastError,
        restarts: s.restarts,
      },
      stream: { clients: stream.clientCount },
      faults: deps.faults?.() ?? [],
      readings: readings ?? null,
    };
  });

  app.get('/api/results/latest', async (_req, reply) => {
    const latest = deps.pipeline.latest();
    if (!latest)
      return reply.code(404).send({ error: 'no result yet: the pipeline has not inferred a frame' });
    return latest;
  });

  app.get('/api/stream.mjpg', (req, reply) => {
    reply.hijack();
    stream.add(reply.raw);
    req.log.debug('stream client connected');
  });
}
