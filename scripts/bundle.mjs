// `npm run build` step, after tsc and copy-build-assets: bundles what a device runs all day — the
// `edge-agent run` path (dist/cli/run-main.js) and the pipeline worker (dist/pipeline/remote/worker-main.js)
// — into minified ES modules under dist/bundle/, and turns those two files into one-line re-exports of
// their bundles. Why (docs/memory.md, "Sixth round"): V8 keeps every loaded module's source text and
// per-module records in the heap; ~600 modules of readable JavaScript cost the main isolate ~5 MB that a
// minified bundle of the same code does not. The rest of dist/ stays as tsc wrote it: the other CLI
// commands, the child processes (derivation, tuner, provider probe) and the session worker load it.
//
// Paths stay right: each module's `import.meta.url` is replaced by its own file's URL in dist/ or
// node_modules/ (relative to the bundle), so `new URL('…', import.meta.url)`, createRequire and the
// worker and child entries resolve exactly as they do unbundled.
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { build } from 'esbuild';
import { lazyBuiltins, lazyPackages } from './lazy-builtins.mjs';
import { omitModules } from './omit-modules.mjs';

const root = path.resolve(import.meta.dirname, '..');
// Usage: node scripts/bundle.mjs [DIST] (default: the repository's dist/; tests bundle a copy).
const dist = path.resolve(process.argv[2] ?? path.join(root, 'dist'));
const outdir = path.join(dist, 'bundle');

/** dist files replaced by a re-export of their bundle (entry name → path under dist/). */
const BUNDLED_ENTRIES = {
  'run-main': 'cli/run-main.js',
  'worker-main': 'pipeline/remote/worker-main.js',
};

/**
 * Loaded from node_modules by an external package anyway: a bundled copy would be the same code loaded
 * twice (docs/memory.md, "Thirteenth round"). readable-stream (with string_decoder and safe-buffer, ~90
 * KB minified) and debug by mqtt-packet through bl, for MQTT.js; semver by sharp, for fastify. Each
 * bundled importer resolves to the same file (`npm ls`; checked by test/integration/build/bundle.test.ts).
 */
const SHARED_WITH_EXTERNALS = ['readable-stream', 'debug', 'semver'];

/**
 * Not bundled, loaded from node_modules at run time: native addons (they find their .node files
 * relative to their own package), and mqtt-packet, whose packet-id cache src/fleet/packet-cache.ts
 * turns off on the copy in node_modules — a bundled copy would be a second instance with the cache on.
 */
const EXTERNAL = ['onnxruntime-node', 'better-sqlite3', 'sharp', 'mqtt-packet', ...SHARED_WITH_EXTERNALS];

const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.(m?js|cjs)$/ }, async (args) => {
      let text = await readFile(args.path, 'utf8');
      if (text.includes('import.meta.url')) {
        const rel = path.relative(outdir, args.path).split(path.sep).join('/');
        text = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
      }
      return { contents: text, loader: 'js', resolveDir: path.dirname(args.path) };
    });
  },
};

const STUB = '// Bundled by scripts/bundle.mjs';
for (const file of Object.values(BUNDLED_ENTRIES)) {
  if ((await readFile(path.join(dist, file), 'utf8')).startsWith(STUB)) {
    console.error(
      `bundle: ${path.join(dist, file)} is already a bundle's re-export; run \`npm run build\` (tsc first)`,
    );
    process.exit(1);
  }
}

const started = performance.now();
// Chunk names carry content hashes: the last build's must not linger.
await rm(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: Object.fromEntries(
    Object.entries(BUNDLED_ENTRIES).map(([name, file]) => [name, path.join(dist, file)]),
  ),
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  // Names are not kept (keepNames costs ~1.6 MB of main heap): our errors set `name` explicitly,
  // stack traces map back with `node --enable-source-maps`.
  keepNames: false,
  // Maps back to src/*.ts through tsc's maps; read only with `node --enable-source-maps`.
  sourcemap: 'linked',
  sourcesContent: false,
  legalComments: 'linked',
  external: EXTERNAL,
  // CommonJS packages in an ES module bundle still call require() for Node's built-ins.
  banner: {
    js: "import { createRequire as __edgeAgentRequire } from 'node:module'; const require = __edgeAgentRequire(import.meta.url);",
  },
  plugins: [omitModules, lazyPackages({ outdir }), importMetaUrl, lazyBuiltins],
  metafile: true,
  logLevel: 'warning',
});
// What went into which file (test/integration/build/bundle.test.ts reads it).
await writeFile(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile));

for (const [name, file] of Object.entries(BUNDLED_ENTRIES)) {
  const target = path.join(dist, file);
  const rel = path
    .relative(path.dirname(target), path.join(outdir, `${name}.js`))
    .split(path.sep)
    .join('/');
  // rel starts with '../': the bundle is a sibling of the entry's directory.
  await writeFile(target, `${STUB}: the compiled module is in ${rel}.\nexport * from '${rel}';\n`);
}
const bytes = Object.entries(result.metafile.outputs)
  .filter(([file]) => file.endsWith('.js'))
  .reduce((sum, [, o]) => sum + o.bytes, 0);
console.log(
  `bundled ${Object.keys(BUNDLED_ENTRIES).join(', ')} -> ${path.relative(root, outdir)} (${Object.keys(result.metafile.inputs).length} modules, ` +
    `${(bytes / 1e6).toFixed(2)} MB of JavaScript, ${Math.round(performance.now() - started)} ms)`,
);
