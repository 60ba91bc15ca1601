import { createReadStream, readFileSync, statSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { errorMessage, UsageError } from '../errors.js';
import { deploySchemas } from '../fleet/deploy/manifest.js';
import type { parseTarget } from '../fleet/operator.js';
import { http } from '../node-http.js';
import { signedDocumentSchema } from '../trust/envelope.js';
import { readPrivateKeyFile, signCommand } from '../trust/sign-command.js';
import type { CommandContext } from './command.js';

/**
 * `fleet deploy TARGET MANIFEST [--serve FILE]`: the signed manifest (from `edge-agent sign`)
 * becomes a `deploy-model` request. With `--serve`, FILE is served at the manifest's own URL
 * (its host, port and path; the URL is signed, so it cannot be chosen here; `--bind` overrides
 * the listening address) until the command ends.
 */
export function readSignedManifest(ctx: CommandContext, file: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path.resolve(ctx.cwd, file), 'utf8'));
  } catch (err) {
    throw new UsageError(`fleet deploy: ${file}: ${(err as Error).message}`);
  }
  const doc = signedDocumentSchema.safeParse(raw);
  if (!doc.success)
    throw new UsageError(
      `fleet deploy: ${file} is not a signed manifest (run \`edge-agent sign MANIFEST --key KEY\`)`,
    );
  const manifest = deploySchemas().deployManifestSchema.safeParse(JSON.parse(doc.data.payload));
  if (!manifest.success)
    throw new UsageError(
      `fleet deploy: ${file}: ${manifest.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return { doc: doc.data, manifest: manifest.data };
}

/**
 * Serves `file` at the manifest URL's port and path for the devices to fetch, listening only on
 * `bind` — by default the manifest URL's own host, i.e. the address the devices were told to
 * reach (never every interface unless asked for with `--bind 0.0.0.0`).
 */
export async function serveModel(
  ctx: CommandContext,
  file: string,
  url: string,
  bytes: number,
  bind?: string,
): Promise<Server> {
  const target = new URL(url);
  if (target.protocol !== 'http:')
    throw new UsageError('fleet deploy: --serve needs an http:// manifest URL');
  const abs = path.resolve(ctx.cwd, file);
  const size = statSync(abs).size;
  if (size !== bytes)
    throw new UsageError(`fleet deploy: ${file} has ${size} bytes, the manifest says ${bytes}`);
  // URL hosts keep IPv6 brackets; listen() wants the bare address.
  const host = bind ?? target.hostname.replace(/^\[(.*)\]$/, '$1');
  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' || new URL(req.url ?? '/', 'http://x').pathname !== target.pathname) {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const from = m ? Number(m[1]) : 0;
    if (from >= size) {
      res.writeHead(416).end();
      return;
    }
    res.writeHead(m ? 206 : 200, {
      'content-length': size - from,
      'accept-ranges': 'bytes',
      ...(m ? { 'content-range': `bytes ${from}-${size - 1}/${size}` } : {}),
    });
    createReadStream(abs, { start: from }).pipe(res);
    ctx.stderr.write(
      `fleet deploy: serving ${path.basename(abs)} to ${req.socket.remoteAddress}${m ? ` from byte ${from}` : ''}\n`,
    );
  });
  const port = Number(target.port || 80);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? errorMessage(err);
    throw new UsageError(
      `fleet deploy: --serve cannot listen on ${host}:${port} (${code})${
        bind === undefined
          ? "; the manifest URL's host is not an address of this machine: pass --bind ADDR (the interface the devices reach)"
          : ''
      }`,
    );
  }
  const where = server.address() as AddressInfo;
  ctx.stderr.write(
    `fleet deploy: serving ${path.basename(abs)} on ${where.address}:${where.port}${target.pathname}\n`,
  );
  return server;
}

/** `--key`: the request becomes `{signed: envelope}` for the device (or "*" for a group). */
export function signedRequest(
  ctx: CommandContext,
  keyFile: string,
  target: ReturnType<typeof parseTarget>,
  command: string,
  params: Record<string, unknown>,
  expiresS: number | undefined,
): Record<string, unknown> {
  const pem = readPrivateKeyFile(path.resolve(ctx.cwd, keyFile), (m) =>
    ctx.stderr.write(`fleet send: ${m}\n`),
  );
  const signed = signCommand(
    {
      command,
      params,
      target: target.kind === 'device' ? target.id : '*',
      nowMs: Date.now(),
      lifetimeS: expiresS ?? 300,
    },
    pem,
  );
  return { signed };
}
