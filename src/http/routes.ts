import type { FastifyInstance } from 'fastify';
import { ImageDecodeError } from '../errors.js';
import { inferenceJson } from '../inference/json.js';
import type { Catalog } from '../models/catalog.js';
import type { FrameResult, PipelineModel, PipelineStats, ResultListener } from '../pipeline/pipeline.js';
import { LatencyWindow } from '../telemetry/percentiles.js';
import type { DeviceReadings } from './metrics.js';
import { type Measured, modelsView, variantKey } from './models-view.js';
import type { MjpegBroadcaster } from './stream.js';

/** What the HTTP layer reads from the pipeline (the Pipeline class provides it). */
export interface HttpPipeline {
  stats(): PipelineStats;
  latest(): FrameResult | undefined;
  onResult(listener: ResultListener): () => void;
  withModel<T>(fn: (model: PipelineModel) => Promise<T>): Promise<T>;
}

export interface RouteDeps {
  pipeline: HttpPipeline;
  /** The current catalog (derived variants appear in it as they are made). */
  catalog: () => Catalog | Promise<Catalog>;
  /** The active variant and why: from the config today, the tuner's decision later. */
  getDecision: () => unknown | Promise<unknown>;
  /** The device profile (hardware part); 503 until it is wired in. */
  getProfile?: () => Promise<unknown>;
  getReadings?: () => Promise<DeviceReadings | undefined>;
  /** Latency figures measured elsewhere (the tuner's benchmarks), by `model/variant`. */
  getMeasurements?: () => Measured | Promise<Measured>;
  version: string;
  deviceId?: string;
  startedAtMs: number;
  now: () => number;
}

const IMAGE_TYPES = [
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/tiff',
  'image/avif',
  'application/octet-stream',
];

/** The JSON API. Errors become `{ error }` with a status by the server's error handler. */
export function registerApi(
  app: FastifyInstance,
  deps: RouteDeps,
  stream: MjpegBroadcaster,
  inferMaxBytes: number,
) {
  // Latency per variant measured by this agent, for the models table.
  const measured = new Map<string, LatencyWindow>();
  deps.pipeline.onResult((r) => {
    const key = variantKey(r.model, r.variant);
    const w = measured.get(key) ?? new LatencyWindow(256, { keep: 'recent' });
    measured.set(key, w);
    w.add(r.timings.inferenceMs);
  });

  app.get('/healthz', async () => {
    const s = deps.pipeline.stats();
    return { status: 'ok', pipeline: s.state, camera: s.camera.state };
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
      },
      stream: { clients: stream.clientCount },
      readings: readings ?? null,
    };
  });

  app.get('/api/profile', async (_req, reply) => {
    if (!deps.getProfile) {
      return reply
        .code(503)
        .send({ error: 'the device profile is not available in this build (hardware part not wired in)' });
    }
    return deps.getProfile();
  });

  app.get('/api/decision', async () => deps.getDecision());

  app.get('/api/models', async () => {
    const catalog = await deps.catalog();
    const s = deps.pipeline.stats();
    const merged = new Map((await deps.getMeasurements?.()) ?? []);
    for (const [k, w] of measured) merged.set(k, w.latency());
    return {
      active: { model: s.model.name, variant: s.model.variant },
      models: modelsView(catalog.models(), { model: s.model.name, variant: s.model.variant }, merged),
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

  app.addContentTypeParser(
    IMAGE_TYPES,
    { parseAs: 'buffer', bodyLimit: inferMaxBytes },
    (_req, body, done) => {
      done(null, body);
    },
  );
  app.post('/api/infer', { bodyLimit: inferMaxBytes }, async (req, reply) => {
    const body = req.body;
    if (!Buffer.isBuffer(body)) {
      return reply
        .code(415)
        .send({ error: 'send the image bytes with Content-Type image/jpeg, image/png or image/webp' });
    }
    if (body.length === 0) {
      throw new ImageDecodeError(
        'empty body: send the image bytes (JPEG, PNG, WebP) with Content-Type image/jpeg or image/png',
      );
    }
    const result = await deps.pipeline.withModel((model) => model.inferEncoded(body));
    return inferenceJson(result);
  });
}
