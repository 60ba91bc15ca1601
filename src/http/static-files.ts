import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

export interface StaticFiles {
  /** A directory whose regular files (at its top level only) are served. */
  root: string;
  /** URL prefix, with leading and trailing slash ('/' or '/vendor/'). */
  prefix: string;
  /** Which file names to serve (all known types by default). */
  allow?: (name: string) => boolean;
  /** Served at the prefix itself. */
  index?: string;
}

/**
 * Serves a fixed set of files: the list is taken once at registration, one route per file, so a
 * request path is never resolved against the filesystem (nothing to escape from) and nothing else
 * in the directory is reachable. The dashboard is a handful of files; @fastify/static (~2 MB of
 * V8 heap with its dependencies, loaded at start) is not needed for that. Files are read per request
 * (the dashboard is asked for rarely; nothing is cached in memory) and sent without Cache-Control.
 */
export function registerStaticFiles(app: FastifyInstance, options: StaticFiles): string[] {
  const allow = options.allow ?? (() => true);
  const names = readdirSync(options.root)
    .filter((name) => /^[\w][\w.-]*$/.test(name) && CONTENT_TYPES[path.extname(name)] !== undefined)
    .filter((name) => allow(name) && statSync(path.join(options.root, name)).isFile())
    .sort();
  const serve = (name: string) => {
    const file = path.join(options.root, name);
    const type = CONTENT_TYPES[path.extname(name)]!;
    return async (_req: unknown, reply: { type(t: string): unknown }) => {
      reply.type(type);
      return readFile(file);
    };
  };
  for (const name of names) app.get(`${options.prefix}${name}`, serve(name));
  if (options.index && names.includes(options.index)) app.get(options.prefix, serve(options.index));
  return names;
}
