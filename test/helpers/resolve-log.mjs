// Test-only loader hook (`node --import <this>`), logging what modules resolve to:
// - EA_RESOLVE_LOG: every package a module of the repo imports (one line: the package name);
// - EA_LOAD_LOG: every module URL under file: that a thread of this process resolves, as "PID<TAB>URL".
//   Worker threads inherit the flag and log too; child processes log under their own pid.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
const packages = process.env.EA_RESOLVE_LOG;
const loads = process.env.EA_LOAD_LOG;
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  const m = /\\/node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(r.url);
  if (packages && m && !/\\/node_modules\\//.test(context.parentURL ?? '')) appendFileSync(packages, m[1] + '\\n');
  if (loads && r.url.startsWith('file:')) appendFileSync(loads, process.pid + '\\t' + r.url + '\\n');
  return r;
}`)}`,
);
