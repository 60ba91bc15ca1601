import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import { isAuthorized, isPublicPath } from './auth.js';
import { AuthFailureLimiter } from './auth-limiter.js';
import { isAllowedHost } from './host-guard.js';

export interface AccessOptions {
  host: string;
  token: string | undefined;
  now: () => number;
  log: Logger;
  /** Wrong tokens per client address within the window before 429 (default 10 per minute). */
  maxFailures?: number;
  windowMs?: number;
}

export interface Access {
  /** Records a wrong token from this request (logged without the token); false once throttled. */
  wrongToken(req: FastifyRequest): void;
  /** Sends 429 and returns true when the client is throttled. */
  throttled(req: FastifyRequest, reply: FastifyReply): boolean;
}

/**
 * Who may talk to the API: the Host header check (DNS rebinding), the bearer token / dashboard
 * session, and throttling of wrong tokens per client address. Registered first on the app.
 */
export function registerAccess(app: FastifyInstance, options: AccessOptions): Access {
  const { token, log } = options;
  const limiter = new AuthFailureLimiter({
    maxFailures: options.maxFailures ?? 10,
    windowMs: options.windowMs ?? 60_000,
    now: options.now,
  });
  const policy = { bindHost: options.host, hasToken: token !== undefined };
  const pathOf = (req: FastifyRequest) => req.url.split('?')[0];

  const access: Access = {
    wrongToken(req) {
      const failures = limiter.fail(req.ip);
      log.warn({ ip: req.ip, path: pathOf(req), failures }, 'wrong http token');
    },
    throttled(req, reply) {
      const waitMs = limiter.retryAfterMs(req.ip);
      if (waitMs === 0) return false;
      const retryAfterS = Math.ceil(waitMs / 1000);
      reply.header('Retry-After', String(retryAfterS));
      void reply.code(429).send({ error: `too many wrong tokens from ${req.ip}; retry in ${retryAfterS} s` });
      return true;
    },
  };

  app.addHook('onRequest', async (req, reply) => {
    if (!isAllowedHost(req.headers.host, policy)) {
      log.warn(
        { ip: req.ip, host: String(req.headers.host).slice(0, 100), path: pathOf(req) },
        'request for a foreign host name refused (DNS rebinding protection)',
      );
      return reply.code(403).send({
        error:
          'host not allowed: this API answers to localhost / 127.0.0.1 only (bind http.host elsewhere with http.token to serve other names)',
      });
    }
    if (!token || isPublicPath(req.method, req.url)) return;
    if (access.throttled(req, reply)) return reply;
    if (!isAuthorized(req.headers, token)) {
      access.wrongToken(req);
      reply.header('WWW-Authenticate', 'Bearer realm="edge-agent"');
      return reply.code(401).send({ error: 'unauthorized: send Authorization: Bearer <http.token>' });
    }
  });
  return access;
}
