import { createHash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  openSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { mkdir, statfs } from 'node:fs/promises';
import type { ClientRequest } from 'node:http';
import path from 'node:path';
import { errorMessage } from '../../errors.js';
import { http, https } from '../../node-http.js';
import { DeployError } from './errors.js';

export interface DownloadJob {
  url: string;
  /** The partial file; kept between attempts so a restart can resume it. */
  file: string;
  /** Exact size: more is refused as it arrives, less is a truncated download. */
  bytes: number;
  sha256: string;
  idleTimeoutMs: number;
  deadlineMs: number;
  signal?: AbortSignal;
  onProgress?(receivedBytes: number, totalBytes: number): void;
  /** Extra CA certificate(s) (PEM) for an https server signed by a private CA. */
  ca?: string | Buffer;
}

/** Free bytes on the filesystem holding `dir` (for unprivileged users). */
export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/** Refuses when the model (plus a margin for the database and logs) would not fit. */
export async function checkFreeSpace(
  dir: string,
  bytes: number,
  marginBytes = 16 * 1024 * 1024,
): Promise<void> {
  const free = await freeBytes(dir);
  if (free < bytes + marginBytes)
    throw new DeployError(
      'space',
      `${Math.round(bytes / 1024)} KiB needed (+${Math.round(marginBytes / 1024 / 1024)} MiB margin), ${Math.round(free / 1024)} KiB free in ${dir}`,
    );
}

/**
 * Downloads `url` into `file` (resuming a partial file with a Range request when the server
 * allows it), bounded by the declared size, an idle timeout and an overall deadline, then checks
 * the sha256 of the whole file. A wrong checksum or an oversized body deletes the partial file;
 * a stalled or cut connection keeps it for the next attempt.
 */
export async function downloadVerified(job: DownloadJob): Promise<void> {
  let have = existsSync(job.file) ? statSync(job.file).size : 0;
  if (have > job.bytes) {
    unlinkSync(job.file);
    have = 0;
  }
  if (have < job.bytes) await fetchInto(job, have);
  const actual = await sha256File(job.file);
  if (actual !== job.sha256) {
    unlinkSync(job.file);
    throw new DeployError(
      'checksum',
      `sha256 mismatch (expected ${job.sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…)`,
    );
  }
}

/**
 * The signed file into `file` (its folder created): downloaded or resumed, checked against the
 * sha256; a complete, matching file is only re-hashed (no network). Progress as a fraction, in
 * steps of at least 0.1.
 */
export async function fetchSignedFile(
  m: { url: string; bytes: number; sha256: string },
  file: string,
  options: Pick<DownloadJob, 'idleTimeoutMs' | 'deadlineMs' | 'signal'> & {
    onProgress?(fraction: number): void;
  },
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  let last = 0;
  await downloadVerified({
    url: m.url,
    file,
    bytes: m.bytes,
    sha256: m.sha256,
    idleTimeoutMs: options.idleTimeoutMs,
    deadlineMs: options.deadlineMs,
    ...(options.signal ? { signal: options.signal } : {}),
    onProgress: (n, total) => {
      const fraction = Math.round((n / total) * 100) / 100;
      if (fraction - last < 0.1) return;
      last = fraction;
      options.onProgress?.(fraction);
    },
  });
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => hash.update(d))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

function fetchInto(job: DownloadJob, offset: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let fd: number | undefined;
    let req: ClientRequest | undefined;
    let received = offset;
    let settled = false;
    const done = (failure?: DeployError) => {
      if (settled) return;
      settled = true;
      let err = failure;
      clearTimeout(idle);
      clearTimeout(deadline);
      job.signal?.removeEventListener('abort', onAbort);
      req?.destroy();
      if (fd !== undefined) {
        try {
          fsyncSync(fd);
        } catch (syncErr) {
          // A full disk can surface only here; the data on disk is then not to be trusted.
          err ??= new DeployError('download', `cannot write: ${errorMessage(syncErr)}`);
          rmSync(job.file, { force: true });
        } finally {
          closeSync(fd);
        }
      }
      if (err) reject(err);
      else resolve();
    };
    const fail = (message: string, options: { retryable: boolean; discard?: boolean }) => {
      done(new DeployError('download', message, { retryable: options.retryable }));
      if (options.discard && existsSync(job.file)) unlinkSync(job.file);
    };
    let idle = setTimeout(
      () => fail(`no data for ${job.idleTimeoutMs} ms (stalled)`, { retryable: true }),
      job.idleTimeoutMs,
    );
    const deadline = setTimeout(
      () =>
        fail(`not finished within ${job.deadlineMs} ms (${received}/${job.bytes} bytes)`, {
          retryable: true,
        }),
      job.deadlineMs,
    );
    const onAbort = () => fail('aborted', { retryable: true });
    job.signal?.addEventListener('abort', onAbort, { once: true });
    const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
    const request = (url: URL, hops: number): void => {
      const get = url.protocol === 'https:' ? https().get : http.get;
      const current = get(
        url,
        { headers, timeout: job.idleTimeoutMs, ...(job.ca ? { ca: job.ca } : {}) },
        (res) => {
          const status = res.statusCode ?? 0;
          if (REDIRECTS.has(status)) {
            // Its body is not read: a redirect with an endless body costs nothing.
            res.destroy();
            const next = redirectTarget(url, res.headers.location, hops);
            if (!next.ok) return fail(next.reason, { retryable: false });
            return request(next.url, hops + 1);
          }
          let start = offset;
          if (status === 200) start = 0;
          else if (status === 206 && offset > 0) {
            const range = /^bytes (\d+)-/.exec(res.headers['content-range'] ?? '');
            if (!range || Number(range[1]) !== offset) start = -1;
          } else {
            res.resume();
            return fail(`HTTP ${status} from ${displayUrl(url)}`, {
              retryable: status >= 500 || status === 429,
            });
          }
          if (start < 0) {
            res.resume();
            return fail('server answered a different range than asked; starting over next attempt', {
              retryable: true,
              discard: true,
            });
          }
          const length = Number(res.headers['content-length'] ?? Number.NaN);
          if (Number.isFinite(length) && start + length > job.bytes) {
            res.resume();
            return fail(`server announces ${start + length} bytes, the manifest ${job.bytes}`, {
              retryable: false,
              discard: true,
            });
          }
          try {
            fd = openSync(job.file, start === 0 ? 'w' : 'a', 0o600);
          } catch (err) {
            res.resume();
            return fail(`cannot write ${path.basename(job.file)}: ${errorMessage(err)}`, {
              retryable: false,
            });
          }
          received = start;
          res.on('data', (chunk: Buffer) => {
            if (settled) return;
            if (received + chunk.length > job.bytes)
              return fail(`body larger than the declared ${job.bytes} bytes`, {
                retryable: false,
                discard: true,
              });
            try {
              writeSync(fd!, chunk);
            } catch (err) {
              return fail(`cannot write: ${errorMessage(err)}`, { retryable: false, discard: true });
            }
            received += chunk.length;
            job.onProgress?.(received, job.bytes);
            clearTimeout(idle);
            idle = setTimeout(
              () => fail(`no data for ${job.idleTimeoutMs} ms (stalled)`, { retryable: true }),
              job.idleTimeoutMs,
            );
          });
          res.on('end', () => {
            if (received < job.bytes)
              return fail(`truncated: ${received} of ${job.bytes} bytes`, { retryable: true });
            done();
          });
          res.on('error', (err) => fail(`connection: ${errorMessage(err)}`, { retryable: true }));
          res.on('aborted', () =>
            fail(`truncated: connection closed at ${received} of ${job.bytes} bytes`, { retryable: true }),
          );
        },
      );
      req = current;
      // A redirect's abandoned request may still report its socket's end: only the current one counts.
      current.on('error', (err) => {
        if (req === current) fail(`connection: ${errorMessage(err)}`, { retryable: true });
      });
    };
    request(new URL(job.url), 0);
  });
}

/** Redirects followed per download (each within the same byte cap, idle timeout and deadline). */
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Where a redirect may lead: at most MAX_REDIRECTS hops, http(s) only, never from https down to
 * http (the signed sha256 would still catch a swapped file, but a downgrade exposes the request
 * and any credentials). Credentials in the first URL stay with its origin: a relative Location
 * keeps them, an absolute one carries only its own. Pure.
 */
export function redirectTarget(
  from: URL,
  location: string | undefined,
  hops: number,
  max = MAX_REDIRECTS,
): { ok: true; url: URL } | { ok: false; reason: string } {
  if (!location) return { ok: false, reason: `redirect without a Location from ${displayUrl(from)}` };
  if (hops >= max) return { ok: false, reason: `more than ${max} redirects (last from ${displayUrl(from)})` };
  let url: URL;
  try {
    url = new URL(location, from);
  } catch {
    return { ok: false, reason: `redirect to an invalid URL from ${displayUrl(from)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return { ok: false, reason: `redirect to ${url.protocol} refused (http and https only)` };
  if (from.protocol === 'https:' && url.protocol === 'http:')
    return {
      ok: false,
      reason: `redirect from https to http refused (${displayUrl(from)} → ${displayUrl(url)})`,
    };
  return { ok: true, url };
}

/** A URL for events and logs: scheme, host and path; never credentials nor the query (tokens). */
export function displayUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}
