import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { type Clock, systemClock } from '../clock.js';
import type { AgentConfig } from '../config/index.js';
import { isLoopbackHost } from '../config/schema.js';
import { ConfigError, EdgeAgentError, errorMessage, ImageDecodeError } from '../errors.js';
import { ACCEPTED_IMAGES_TEXT, ImageTooLargeError, UnsupportedImageError } from '../image/limits.js';
import type { Logger } from '../log.js';
import { packageRoot } from '../paths.js';
import type { TelemetryRecord } from '../telemetry/record.js';
import { registerAccess } from './access.js';
import { SESSION_COOKIE, safeEqual, sessionValue } from './auth.js';
import { type DashboardDeps, registerDashboardRoutes } from './dashboard-routes.js';
import { AgentMetrics } from './metrics.js';
import { type RouteDeps, registerApi } from './routes.js';
import { registerStaticFiles } from './static-files.js';
import { MjpegBroadcaster } from './stream.js';

/**
 * fastify's JSON Schema compilers (Ajv, fast-json-stringify) are built when a route declares a JSON
 * schema. No route of the agent does: requests are checked with zod in the handlers. These factories
 * refuse one with the reason, so fastify never loads the compilers, and the bundle leaves them out
 * (scripts/omit-modules.mjs; their text would sit in the main heap, docs/memory.md).
 */
export function noJsonSchemas(): never {
  throw new EdgeAgentError(
    'edge-agent routes take no JSON schemas: check the request with zod in the handler (src/http/server.ts, noJsonSchemas)',
  );
}

/** Adds routes to the server; feature modules provide these (src/features/). */
export type RouteRegistrar = (app: FastifyInstance) => void;

export interface HttpServerDeps extends Omit<RouteDeps, 'startedAtMs' | 'now'> {
  /** http.inferConcurrency belongs to the infer feature (src/features/infer.ts), not the server. */
  config: Omit<AgentConfig['http'], 'inferConcurrency'>;
  /** The features' routes, registered after the core ones, behind the same auth and error handling. */
  routes?: readonly RouteRegistrar[];
  /** The latest telemetry record: the figures only it has go to /metrics (see metrics-telemetry.ts). */
  getTelemetry?: () => TelemetryRecord | undefined;
  log: Logger;
  clock?: Clock;
  /** Metrics history for the dashboard's charts (the store). */
  history?: DashboardDeps['history'];
}

/** The dashboard's static files: next to this module (src/ under tsx), else the package's src/. */
export function publicDir(): string {
  const here = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
  if (existsSync(path.join(here, 'index.html'))) return here;
  const shipped = path.join(packageRoot(), 'src', 'http', 'public');
  if (existsSync(path.join(shipped, 'index.html'))) return shipped;
  throw new EdgeAgentError(`dashboard files not found (looked in ${here} and ${shipped})`);
}

function uplotDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve('uplot'));
}

/**
 * Local serving: the JSON API, the annotated MJPEG stream, Prometheus /metrics and the dashboard.
 * Loopback by default; any other bind address needs `http.token` (bearer or dashboard session).
 */
export class HttpServer {
  readonly app: FastifyInstance;
  readonly metrics: AgentMetrics;
  readonly stream: MjpegBroadcaster;
  private readonly log: Logger;
  private unsubscribe: (() => void) | undefined;
  private listening: string | undefined;

  constructor(private readonly deps: HttpServerDeps) {
    const { config } = deps;
    const clock = deps.clock ?? systemClock;
    this.log = deps.log;
    if (!isLoopbackHost(config.host) && !config.token) {
      throw new ConfigError(
        `http.host ${config.host} is not loopback: set http.token (16+ characters) or bind to 127.0.0.1`,
      );
    }
    this.metrics = new AgentMetrics({
      stats: () => deps.pipeline.stats(),
      ...(deps.getReadings ? { readings: deps.getReadings } : {}),
      ...(deps.getTelemetry ? { telemetry: deps.getTelemetry } : {}),
    });
    this.stream = new MjpegBroadcaster(
      { maxFps: config.streamMaxFps, quality: config.streamQuality },
      clock,
      deps.log,
      (listener) => deps.pipeline.onFrame(listener),
    );
    this.unsubscribe = deps.pipeline.onResult((result) => this.metrics.observe(result));
    this.app = Fastify({
      logger: false,
      forceCloseConnections: true,
      // JSON bodies (POST /api/session) are tiny; POST /api/infer sets its own limit (inferMaxBytes).
      bodyLimit: 64 * 1024,
      schemaController: {
        compilersFactory: { buildValidator: noJsonSchemas, buildSerializer: noJsonSchemas },
      },
    });
    this.routes(clock);
  }

  private routes(clock: Clock): void {
    const { app, deps } = this;
    const token = deps.config.token;
    const log = this.log;
    // Host header check (DNS rebinding), token, wrong-token throttling: see access.ts.
    const access = registerAccess(app, { host: deps.config.host, token, now: () => clock.now(), log });
    // Method, path (no query string) and status only: tokens and payloads never reach the log.
    app.addHook('onResponse', async (req, reply) => {
      log.debug(
        {
          method: req.method,
          path: req.url.split('?')[0],
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime),
        },
        'http',
      );
    });
    app.setErrorHandler((err: FastifyError, req, reply) => {
      if (err instanceof ImageTooLargeError) return reply.code(413).send({ error: err.message });
      if (err instanceof UnsupportedImageError) return reply.code(415).send({ error: err.message });
      if (err instanceof ImageDecodeError) return reply.code(400).send({ error: err.message });
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        const infer = req.url.split('?')[0] === '/api/infer';
        return reply.code(413).send({
          error: infer
            ? `image larger than http.inferMaxBytes (${deps.config.inferMaxBytes} bytes)`
            : 'request body too large (64 KiB at most)',
        });
      }
      if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        return reply.code(415).send({ error: `send the image bytes: ${ACCEPTED_IMAGES_TEXT}` });
      }
      // 503: unavailable for now (no model loaded: agent/no-model.ts); the message says why.
      if (err.statusCode === 503) return reply.code(503).send({ error: err.message });
      if (err.statusCode && err.statusCode < 500)
        return reply.code(err.statusCode).send({ error: err.message });
      log.error({ path: req.url.split('?')[0], err: errorMessage(err) }, 'http handler failed');
      return reply.code(500).send({
        error:
          err instanceof EdgeAgentError
            ? err.message
            : `internal error on ${req.method} ${req.url.split('?')[0]} (see the agent log)`,
      });
    });

    app.post('/api/session', async (req, reply) => {
      if (!token) return { session: 'not needed: no http.token configured' };
      if (access.throttled(req, reply)) return reply;
      const given = (req.body as { token?: unknown } | undefined)?.token;
      if (typeof given !== 'string' || !safeEqual(given, token)) {
        access.wrongToken(req);
        return reply.code(401).send({ error: 'wrong token' });
      }
      reply.header(
        'Set-Cookie',
        `${SESSION_COOKIE}=${sessionValue(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=2592000`,
      );
      return { session: 'ok' };
    });

    app.get('/metrics', async (_req, reply) => {
      reply.header('Content-Type', this.metrics.contentType);
      return this.metrics.text();
    });

    registerApi(app, { ...deps, startedAtMs: clock.now(), now: () => clock.now() }, this.stream);
    for (const register of deps.routes ?? []) register(app);

    registerDashboardRoutes(
      app,
      {
        ...(deps.history ? { history: deps.history } : {}),
        now: () => clock.now(),
      },
      this.stream,
    );

    registerStaticFiles(app, { root: publicDir(), prefix: '/', index: 'index.html' });
    registerStaticFiles(app, {
      root: uplotDir(),
      prefix: '/vendor/',
      allow: (name) => /^uPlot\.(iife\.min\.js|min\.css)$/.test(name),
    });
  }

  /** Listens; resolves with the URL. A taken port is a clear error, not a crash. */
  async start(signal?: AbortSignal): Promise<string> {
    const { host, port } = this.deps.config;
    signal?.addEventListener('abort', () => void this.stop(), { once: true });
    try {
      await this.app.listen({ host, port });
    } catch (err) {
      throw new EdgeAgentError(
        `http: cannot listen on ${host}:${port} (${errorMessage(err)}); set http.port (0 = any free port) or EDGE_AGENT_HTTP_PORT`,
        { cause: err },
      );
    }
    const address = this.app.server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.listening = `http://${shownHost}:${address.port}`;
    this.log.info(
      { url: this.listening, auth: this.deps.config.token ? 'bearer token' : 'none (loopback)' },
      'http listening',
    );
    return this.listening;
  }

  get url(): string | undefined {
    return this.listening;
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.stream.close();
    await this.app.close();
  }
}
