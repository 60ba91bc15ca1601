import { isLoopbackHost } from '../config/schema.js';

/**
 * DNS-rebinding protection. A page on evil.example can make a browser send requests to
 * 127.0.0.1 by re-pointing its own name there; those requests still carry `Host: evil.example`.
 * So while the API is meant for this machine only (bound to loopback, or without a token) it
 * answers only requests addressed to a loopback name or the bound address itself. Bound to
 * another address with a token, every name is accepted: the token is what protects it then.
 */
export interface HostPolicy {
  /** http.host: the bind address. */
  bindHost: string;
  hasToken: boolean;
}

/** The host name of a Host header, lower case, without port or IPv6 brackets. Pure. */
export function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end > 0 ? h.slice(1, end) : h;
  }
  const colon = h.lastIndexOf(':');
  // One colon: name:port. More than one without brackets: a bare IPv6 address.
  return colon >= 0 && h.indexOf(':') === colon ? h.slice(0, colon) : h;
}

/** Whether a request with this Host header may be served. Pure. */
export function isAllowedHost(header: string | undefined, policy: HostPolicy): boolean {
  if (!isLoopbackHost(policy.bindHost) && policy.hasToken) return true;
  // HTTP/1.0 clients may omit Host; browsers (the rebinding vector) always send it.
  if (header === undefined || header === '') return true;
  const name = hostName(header).replace(/\.$/, '');
  if (name === '') return false;
  return isLoopbackHost(name) || name === hostName(policy.bindHost);
}
