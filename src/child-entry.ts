import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * How to start a child-process module that sits next to the caller: the compiled `.js` when the
 * package is built, else the `.ts` through tsx (running from source, tests). `moduleUrl` is the
 * caller's `import.meta.url`; `name` the child's file name without extension.
 */
export function childEntry(moduleUrl: string, name: string): { script: string; execArgv: string[] } {
  const dir = path.dirname(fileURLToPath(moduleUrl));
  const js = path.join(dir, `${name}.js`);
  if (existsSync(js)) return { script: js, execArgv: [] };
  const loader = pathToFileURL(createRequire(moduleUrl).resolve('tsx')).href;
  return { script: path.join(dir, `${name}.ts`), execArgv: ['--import', loader] };
}
