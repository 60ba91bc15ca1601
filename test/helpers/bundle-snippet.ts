import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

/**
 * Bundles a snippet as scripts/bundle.mjs bundles the run path (ESM for Node, `require` from the
 * banner) with the given plugins, into `dir` (inside the repository when packages must resolve from
 * node_modules). Returns the output file and the inputs esbuild read.
 */
export async function bundleSnippet(
  source: string,
  { plugins, dir, ext = 'mjs' }: { plugins: unknown[]; dir: string; ext?: 'mjs' | 'cjs' },
): Promise<{ out: string; inputs: string[] }> {
  const entry = path.join(dir, `entry-${Math.random().toString(36).slice(2)}.${ext}`);
  writeFileSync(entry, source);
  const out = `${entry}.bundle.mjs`;
  const result = await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    plugins: plugins as never,
    metafile: true,
    logLevel: 'silent',
  });
  return { out, inputs: Object.keys(result.metafile.inputs) };
}

/** Runs a bundled snippet with this Node and parses the JSON it prints. */
export const runJson = (file: string) =>
  JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
