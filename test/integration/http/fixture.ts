import { createSource } from '../../../src/camera/index.js';
import { parseConfig } from '../../../src/config/index.js';
import { deviceFeature } from '../../../src/features/device.js';
import { routeRegistrars, startFeatures, stopFeatures } from '../../../src/features/feature.js';
import { inferFeature } from '../../../src/features/infer.js';
import { modelsFeature } from '../../../src/features/models.js';
import { HttpServer, type HttpServerDeps } from '../../../src/http/server.js';
import { WorkerModel } from '../../../src/inference/worker-model.js';
import { type Logger, silentLogger } from '../../../src/log.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { Pipeline } from '../../../src/pipeline/pipeline.js';
import { MODELS, REPO } from '../../helpers/paths.js';

export interface Served {
  server: HttpServer;
  pipeline: Pipeline;
  url: string;
  close(): Promise<void>;
}

/** Server deps to add (routes are added to the features'), and the device profile for GET /api/profile. */
type Extra = Partial<HttpServerDeps> & {
  profile?: () => Promise<unknown>;
  /** GET /api/decision's answer (default: the configured variant, no tuner). */
  decision?: () => unknown;
};

/** The agent's serving stack on a free port: the sample folder through YOLOX-nano, real sessions. */
export async function serveSamples(
  http: Record<string, unknown> = {},
  extra: Extra | ((pipeline: Pipeline) => Extra) = {},
  log: Logger = silentLogger(),
): Promise<Served> {
  const config = parseConfig({
    camera: { source: `images:${REPO}/samples`, fps: 10 },
    http: { port: 0, ...http },
  });
  const catalog = await loadCatalog({ modelsDir: MODELS });
  const model = await WorkerModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 } });
  const source = createSource(config.camera, { log });
  const pipeline = new Pipeline({ source, model, pacing: { mode: 'continuous' }, maxFrameAgeMs: 2000, log });
  const { profile, decision, ...more } = typeof extra === 'function' ? extra(pipeline) : extra;
  // The features the agent serves over HTTP (src/agent/features.ts), on this stack.
  const features = [
    deviceFeature({ status: () => ({}), restart: () => undefined, ...(profile ? { profile } : {}) }),
    modelsFeature({
      models: {
        catalog,
        active: () => ({ model: pipeline.stats().model.name, variant: pipeline.stats().model.variant }),
        switchTo: () => Promise.reject(new Error('not in this fixture')),
      },
      decision:
        decision ??
        (() => ({ model: 'yolox-nano', variant: 'fp32', source: 'config', reason: 'configured' })),
      results: pipeline,
    }),
    inferFeature({ pipeline, maxBytes: config.http.inferMaxBytes }),
  ];
  const server = new HttpServer({
    config: config.http,
    log,
    pipeline,
    version: '0.0.0-test',
    ...more,
    routes: [...routeRegistrars(features), ...(more.routes ?? [])],
  });
  const url = await server.start();
  await startFeatures(features, new AbortController().signal);
  pipeline.start();
  return {
    server,
    pipeline,
    url: url.replace('0.0.0.0', '127.0.0.1'),
    async close() {
      await server.stop();
      await pipeline.stop();
      await stopFeatures(features, () => undefined);
      await model.dispose();
    },
  };
}

export async function waitForResult(pipeline: Pipeline, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  while (!pipeline.latest()) {
    if (Date.now() - started > timeoutMs) throw new Error('no inference result in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
