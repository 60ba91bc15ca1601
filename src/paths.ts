import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root (the folder holding package.json, models/ and samples/), found by walking up
 * from this file so it is the same for `src/` under tsx and `dist/` when compiled.
 */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'models'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir)
      throw new Error('edge-agent package root not found (no package.json with models/ above src)');
    dir = parent;
  }
}
