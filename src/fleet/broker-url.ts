import type { IClientOptions, MqttProtocol } from 'mqtt';

/**
 * MQTT.js's connection options for a broker URL, read with the WHATWG URL parser. Given a URL
 * string, `mqtt.connect` parses it with Node's legacy `url.parse`, which Node 24 (the arm64
 * image's runtime) answers with a DEP0169 deprecation warning on every start
 * (mqttjs/MQTT.js#1569, still open); handed options, it does not parse. This produces the fields
 * `url.parse(url, true)` gave MQTT.js — `protocol`, `host` (lower case, IPv6 without brackets),
 * `port`, `auth` (decoded `user:password`, which MQTT.js then splits), `query`, `path` — and merges
 * `options` over them the way MQTT.js does, so the client is configured the same either way
 * (test/unit/fleet/broker-url.test.ts compares the two). Throws on a URL that does not parse.
 */
export function brokerConnectOptions(url: string, options: IClientOptions = {}): IClientOptions {
  const u = new URL(url);
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const user = decode(u.username);
  const password = decode(u.password);
  const auth = user || password ? (password ? `${user}:${password}` : user) : undefined;
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of u.searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  const path = `${u.pathname}${u.search}`;
  // WHATWG drops a special scheme's default port (wss://h:443 → ''); url.parse kept what was written.
  const written = /^[^:]+:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):(\d+)/.exec(url)?.[1];
  const port = u.port !== '' ? u.port : written;
  const parsed: IClientOptions = {
    protocol: u.protocol.replace(/:$/, '') as MqttProtocol,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase(),
    ...(port !== undefined ? { port: Number(port) } : {}),
    ...(auth !== undefined ? { auth } : {}),
    query: query as Record<string, string>,
    ...(path !== '' ? { path } : {}),
  };
  return { ...parsed, ...options };
}
