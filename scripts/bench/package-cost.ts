// What a library costs a process on the lean runtime, to decide what to replace on the run path
// (docs/memory.md, "Eighteenth round"): each variant is a small program bundled and minified as
// scripts/bundle.mjs bundles the agent (the same omitted modules: zod's translations, fastify's JSON
// Schema compilers), run in a child process of this Node with the deployment's environment (glibc
// malloc settings, V8 flags), node arguments and the lean runtime, used once (an HTTP server
// answers 10 routes 50 times; a schema parses a good and a bad value), collected, then measured: V8
// heap used and committed, RSS and anonymous memory. Every variant also bundles pino (the agent has
// it anyway), so the difference to `none` is the library's. Rounds alternate the variants.
// Run with `npm run bench:package-cost [-- --rounds 3 --out NAME]`; writes bench/NAME.json and .md
// (default package-cost).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { AGENT_LEAN_NODE_ARGS } from '../../src/service/memory-env.js';
import { omitModules } from '../omit-modules.mjs';
import { DEPLOY_ENV, DEPLOY_NODE_ARGS } from './memory.js';
import { markdownTable, percentile, round, writeStandalone } from './stats.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const LOGGER = "import pino from 'pino'; globalThis.keep = [pino({ level: 'warn' })];";
const ROUTES = 9;
const SCHEMA_INPUT = "const good = { c: ['u'], d: { q: 1 } }; const bad = { c: [1], d: 3 };";

/** Each variant's program; `port` is an HTTP server's port (0: nothing to ask). */
const VARIANTS: Record<string, { what: string; source: string }> = {
  none: { what: 'pino alone (the baseline)', source: `${LOGGER}\nexport const port = 0;` },
  'node-http': {
    what: `node:http with a ${ROUTES + 1}-route table written by hand`,
    source: `${LOGGER}
import http from 'node:http';
const routes = new Map();
for (let i = 0; i < ${ROUTES}; i++) routes.set('r' + i, (id, q) => ({ i, id, q }));
const server = http.createServer((req, res) => {
  const send = (code, body) => { res.statusCode = code; res.setHeader('content-type', 'application/json'); res.end(JSON.stringify(body)); };
  if (req.headers['x-refuse']) return send(403, { error: 'no' });
  const url = new URL(req.url, 'http://localhost');
  const [, name, id] = url.pathname.split('/');
  if (req.method === 'POST' && name === 'cmd') {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => send(200, { ok: true, body: JSON.parse(body) }));
    return;
  }
  const route = routes.get(name);
  if (!route) return send(404, { error: 'not found' });
  send(200, route(id, Object.fromEntries(url.searchParams)));
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
export const port = server.address().port;`,
  },
  fastify: {
    what: `fastify with the same ${ROUTES + 1} routes, a hook and an error handler (as src/http/server.ts sets it up)`,
    source: `${LOGGER}
import Fastify from 'fastify';
const refuse = () => { throw new Error('no JSON schemas'); };
const app = Fastify({ logger: false, bodyLimit: 65536, schemaController: { compilersFactory: { buildValidator: refuse, buildSerializer: refuse } } });
app.addHook('onRequest', async (req, reply) => { if (req.headers['x-refuse']) return reply.code(403).send({ error: 'no' }); });
app.setErrorHandler((err, _req, reply) => reply.code(500).send({ error: err.message }));
for (let i = 0; i < ${ROUTES}; i++) app.get('/r' + i + '/:id', async (req) => ({ i, id: req.params.id, q: req.query }));
app.post('/cmd', async (req) => ({ ok: true, body: req.body }));
await app.listen({ port: 0, host: '127.0.0.1' });
export const port = app.server.address().port;`,
  },
  zod: {
    what: 'zod (classic API): one object schema, a good and a bad parse',
    source: `${LOGGER}
import { z } from 'zod';
const s = z.strictObject({ a: z.coerce.number().positive().max(100).default(1), b: z.enum(['x', 'y']).optional(), c: z.array(z.string().min(1)).max(4), d: z.union([z.literal('p'), z.object({ q: z.number().int() })]) });
${SCHEMA_INPUT}
globalThis.keep.push(s, s.safeParse(good).success, s.safeParse(bad).error.issues.map((i) => i.message));
export const port = 0;`,
  },
  'zod-mini': {
    what: 'zod/mini with English messages: the same schema, the same parses',
    source: `${LOGGER}
import * as z from 'zod/mini';
import { en } from 'zod/v4/locales';
z.config(en());
const s = z.strictObject({ a: z._default(z.coerce.number().check(z.positive(), z.maximum(100)), 1), b: z.optional(z.enum(['x', 'y'])), c: z.array(z.string().check(z.minLength(1))).check(z.maxLength(4)), d: z.union([z.literal('p'), z.object({ q: z.int() })]) });
${SCHEMA_INPUT}
globalThis.keep.push(s, s.safeParse(good).success, s.safeParse(bad).error.issues.map((i) => i.message));
export const port = 0;`,
  },
};

/** Runs a bundle, asks its server (if any), collects, and prints the figures as JSON. */
const MEASURE = `
import http from 'node:http';
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
const { port } = await import(process.argv[1]);
const ask = (path, method = 'GET', body) => new Promise((resolve, reject) => {
  const r = http.request({ port, path, method, headers: body ? { 'content-type': 'application/json' } : {} }, (res) => { res.resume(); res.on('end', resolve); });
  r.on('error', reject);
  r.end(body);
});
if (port) for (let k = 0; k < 50; k++) { for (let i = 0; i < ${ROUTES}; i++) await ask('/r' + i + '/abc?x=' + k); await ask('/cmd', 'POST', '{"a":1}'); }
for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 100)); }
const h = v8.getHeapStatistics();
const smaps = readFileSync('/proc/self/smaps_rollup', 'utf8');
const mb = (k) => Number(smaps.match(new RegExp('^' + k + ':\\\\s+(\\\\d+)', 'm'))[1]) / 1024;
console.log(JSON.stringify({ used: h.used_heap_size / 1048576, committed: h.total_heap_size / 1048576, rss: mb('Rss'), anonymous: mb('Anonymous') }));
process.exit(0);
`;

interface Sample {
  used: number;
  committed: number;
  rss: number;
  anonymous: number;
}

async function bundleVariants(dir: string): Promise<Record<string, { file: string; bytes: number }>> {
  const out: Record<string, { file: string; bytes: number }> = {};
  for (const [name, { source }] of Object.entries(VARIANTS)) {
    const entry = path.join(dir, `${name}.src.mjs`);
    writeFileSync(entry, source);
    const file = path.join(dir, `${name}.mjs`);
    const result = await build({
      entryPoints: [entry],
      outfile: file,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      minify: true,
      nodePaths: [path.join(root, 'node_modules')],
      banner: {
        js: "import { createRequire as __r } from 'node:module'; const require = __r(import.meta.url);",
      },
      plugins: [omitModules],
      metafile: true,
      logLevel: 'error',
    });
    out[name] = { file, bytes: Object.values(result.metafile.outputs)[0]?.bytes ?? 0 };
  }
  return out;
}

/** The `package-cost` section of `npm run bench`. */
export async function benchPackageCost(
  options: { rounds?: number } = {},
): Promise<{ json: unknown; markdown: string }> {
  const rounds = options.rounds ?? 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ea-bench-package-cost-'));
  try {
    const bundles = await bundleVariants(dir);
    const samples: Record<string, Sample[]> = Object.fromEntries(Object.keys(VARIANTS).map((n) => [n, []]));
    const args = ['--expose-gc', ...DEPLOY_NODE_ARGS, ...AGENT_LEAN_NODE_ARGS, '--input-type=module'];
    for (let r = 0; r < rounds; r++) {
      for (const [name, { file }] of Object.entries(bundles)) {
        const out = execFileSync(process.execPath, [...args, '-e', MEASURE, file], {
          encoding: 'utf8',
          cwd: root,
          env: { ...process.env, ...DEPLOY_ENV },
        });
        samples[name]!.push(JSON.parse(out.trim().split('\n').at(-1) ?? '') as Sample);
      }
    }
    const median = (name: string, key: keyof Sample) =>
      percentile(
        samples[name]!.map((s) => s[key]),
        50,
      );
    const base = (key: keyof Sample) => median('none', key);
    const rows = Object.entries(VARIANTS).map(([name, { what }]) => ({
      variant: name,
      what,
      bundleKb: round(bundles[name]!.bytes / 1024, 1),
      usedMB: round(median(name, 'used')),
      committedMB: round(median(name, 'committed')),
      rssMB: round(median(name, 'rss'), 1),
      anonymousMB: round(median(name, 'anonymous'), 1),
      overNone: {
        usedMB: round(median(name, 'used') - base('used')),
        committedMB: round(median(name, 'committed') - base('committed')),
        rssMB: round(median(name, 'rss') - base('rss'), 1),
      },
    }));
    const markdown = [
      `Node ${process.version}, deployment environment, lean runtime (${[...DEPLOY_NODE_ARGS, ...AGENT_LEAN_NODE_ARGS].join(' ')}), median of ${rounds} child processes per variant, after use and garbage collection`,
      '',
      markdownTable(
        [
          'variant',
          'minified KB',
          'V8 heap used MB (over none)',
          'committed MB (over none)',
          'RSS MB (over none)',
          'anonymous MB',
        ],
        rows.map((r) => [
          `${r.variant}: ${r.what}`,
          r.bundleKb,
          `${r.usedMB} (${r.overNone.usedMB})`,
          `${r.committedMB} (${r.overNone.committedMB})`,
          `${r.rssMB} (${r.overNone.rssMB})`,
          r.anonymousMB,
        ]),
      ),
      '',
    ].join('\n');
    return { json: { node: process.version, rounds, rows, samples }, markdown };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      out: { type: 'string', default: 'package-cost' },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20) throw new Error('--rounds: an integer 1–20');
  if (!/^[A-Za-z0-9._-]+$/.test(values.out)) throw new Error('--out: a plain file name');
  writeStandalone(values.out, await benchPackageCost({ rounds }));
}
