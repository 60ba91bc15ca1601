import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Bearer-token access: `Authorization: Bearer <token>` for API clients and Prometheus; for the
 * dashboard in a browser (which cannot add headers to <img> requests) an HttpOnly cookie holding
 * an HMAC of the token, set by `POST /api/session`. The token itself is never logged or echoed.
 */
export const SESSION_COOKIE = 'edge_agent_session';

/** Paths served without a token: liveness and the static dashboard shell (it holds no data). */
export function isPublicPath(method: string, url: string): boolean {
  const path = url.split('?')[0] ?? '';
  if (path === '/healthz') return true;
  if (method === 'POST' && path === '/api/session') return true;
  if (method !== 'GET' && method !== 'HEAD') return false;
  return (
    path === '/' || /^\/(index\.html|app\.js|panels\.js|style\.css|favicon\.svg|vendor\/[\w.-]+)$/.test(path)
  );
}

function digest(value: string): Buffer {
  return createHmac('sha256', 'edge-agent-compare').update(value).digest();
}

/** Constant-time comparison that does not leak the length either. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The cookie value for a token: proves knowledge of it without storing it in the browser. */
export function sessionValue(token: string): string {
  return createHmac('sha256', token).update('edge-agent dashboard session').digest('base64url');
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

/** Whether a request carries the token (header) or a valid dashboard session (cookie). */
export function isAuthorized(headers: { authorization?: string; cookie?: string }, token: string): boolean {
  const bearer = bearerToken(headers.authorization);
  if (bearer !== undefined) return safeEqual(bearer, token);
  const session = cookieValue(headers.cookie, SESSION_COOKIE);
  return session !== undefined && safeEqual(session, sessionValue(token));
}
