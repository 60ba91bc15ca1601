// An esbuild plugin of scripts/bundle.mjs (tested: test/unit/build/omit-modules.test.ts, and the bundle's
// meta.json in test/integration/build/bundle.test.ts).
/**
 * Modules the bundled run path never runs but would carry. The text of every module in a loaded chunk
 * stays in the main thread's V8 heap for the process's life (the source V8 compiles functions from on
 * first call), whether or not the module is ever required: ~1.9 MB for the agent (docs/memory.md,
 * "Thirteenth round"). Left out:
 * - zod's 63 translations of its error messages (264 KB of the bundle): only English is used, and
 *   zod's own default is English (`zod/v4/locales/index.js` becomes a module exporting `en` alone);
 * - fastify's JSON Schema compilers, Ajv and fast-json-stringify with them (~250 KB): no route of the
 *   agent has a JSON schema (requests are checked with zod in the handlers), and src/http/server.ts
 *   gives fastify compiler factories that refuse one, so fastify never requires these;
 * - light-my-request (29 KB), fastify's `inject` for tests, which tests call on the unbundled sources.
 * A module replaced by a refusal throws when required, with what to change, so a new use fails loudly
 * (the bundle tests run the agent from the bundle).
 */
import path from 'node:path';

/** Bare specifiers whose require() throws in the bundle (package → why it is not there). */
export const REFUSED = {
  '@fastify/ajv-compiler': 'routes take no JSON schemas (src/http/server.ts: noJsonSchemas)',
  '@fastify/fast-json-stringify-compiler': 'routes take no JSON schemas (src/http/server.ts: noJsonSchemas)',
  'light-my-request': "fastify's inject() is for tests, which run the unbundled sources",
};

const ZOD_LOCALES = /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/;
/** A string matched literally in a RegExp. */
export const escapeRegExp = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

export const omitModules = {
  name: 'omit-modules',
  setup(b) {
    b.onResolve(
      { filter: new RegExp(`^(${Object.keys(REFUSED).map(escapeRegExp).join('|')})$`) },
      (args) => ({
        path: args.path,
        namespace: 'omitted',
      }),
    );
    b.onLoad({ filter: /.*/, namespace: 'omitted' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(
        `${args.path} is not in edge-agent's bundle (scripts/omit-modules.mjs): ${REFUSED[args.path]}`,
      )});`,
      loader: 'js',
    }));
    b.onLoad({ filter: ZOD_LOCALES }, (args) => ({
      contents: 'export { default as en } from "./en.js";\n',
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
  },
};
