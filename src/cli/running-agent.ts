import { http } from '../node-http.js';

/**
 * The URL of an edge-agent serving on this machine with this configuration's HTTP settings, when
 * one answers `/healthz` (no token needed) within `timeoutMs`; undefined otherwise. A one-shot
 * command (`tune`) uses it to say that the running agent has not adopted what it just did.
 */
export async function runningAgentUrl(
  httpConfig: { enabled: boolean; host: string; port: number },
  timeoutMs = 500,
): Promise<string | undefined> {
  if (!httpConfig.enabled || httpConfig.port === 0) return undefined;
  // An agent bound to every address answers on loopback.
  const wildcard = ['0.0.0.0', '::', 'localhost'].includes(httpConfig.host);
  const host = wildcard ? '127.0.0.1' : httpConfig.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${httpConfig.port}`;
  return new Promise((resolve) => {
    const req = http.get(`${url}/healthz`, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > 64 * 1024) req.destroy();
      });
      res.on('end', () => {
        try {
          const j = JSON.parse(body) as { status?: unknown; pipeline?: unknown };
          resolve(
            res.statusCode === 200 && typeof j.status === 'string' && 'pipeline' in j ? url : undefined,
          );
        } catch {
          resolve(undefined);
        }
      });
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}
