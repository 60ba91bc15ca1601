// Test-only loader hook (`node --import <this>`), logging what modules resolve to:
// - EA_RESOLVE_LOG: every package a module of the repo imports (one line: the package name);
// - EA_LOAD_LOG: every module URL under file: that a thread of this process resolves, as "PID<TAB>URL".
//   Worker threads inherit the flag and log too; child processes log under their own pid.
// - EA_BUILTINS_LOG: at exit, each thread's Node built-in modules loaded (process.moduleLoadList),
//   as "PID<TAB>THREAD<TAB>name,name,…".
// - EA_CJS_LOG: at exit, each thread's CommonJS modules loaded (require.cache; require() calls do not
//   pass the resolve hook below on Node 20), one "PID<TAB>THREAD<TAB>path" line each.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { threadId } from 'node:worker_threads';

const builtins = process.env.EA_BUILTINS_LOG;
if (builtins) {
  process.on('exit', () => {
    const names = process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));
    appendFileSync(builtins, `${process.pid}\t${threadId}\t${names.join(',')}\n`);
  });
}

const cjs = process.env.EA_CJS_LOG;
if (cjs) {
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const lines = Object.keys(cache).map((file) => `${process.pid}\t${threadId}\t${file}\n`);
    appendFileSync(cjs, lines.join(''));
  });
}

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
