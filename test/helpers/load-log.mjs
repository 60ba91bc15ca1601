// Test-only loader hook (`node --import <this>`): appends every module URL a thread of this process
// resolves under file:, as "PID<TAB>URL", to the file named by EA_LOAD_LOG. Worker threads inherit
// the flag and log too; child processes log under their own pid.
import { register } from 'node:module';

register(
  `data:text/javascript,${encodeURIComponent(`
import { appendFileSync } from 'node:fs';
const out = process.env.EA_LOAD_LOG;
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (out && r.url.startsWith('file:')) appendFileSync(out, process.pid + '\\t' + r.url + '\\n');
  return r;
}`)}`,
);
