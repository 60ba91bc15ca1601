// Test-only loader hook (`node --import <this>`): appends every package a module of the repo
// imports (one line: the package name) to the file named by EA_RESOLVE_LOG.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
const out = process.env.EA_RESOLVE_LOG;
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (out && m && !/\\/node_modules\\//.test(context.parentURL ?? '')) appendFileSync(out, m[1] + '\\n');
  return r;
}`)}`,
);
