// esbuild plugins of scripts/bundle.mjs (tested on their own: test/unit/build/lazy-builtins.test.ts).
import { createRequire } from 'node:module';
import path from 'node:path';
import { escapeRegExp } from './omit-modules.mjs';

/**
 * Node built-ins that CommonJS packages in the bundle require when they load but use only on paths a
 * device seldom takes: fastify's server module requires node:http2 and node:https for options the
 * agent never sets, MQTT.js and its ws dependency require node:tls and node:https for mqtts:// and
 * wss://. Loading them costs ~4 MB of RSS on Node 24 (tls alone ~2 MB; docs/memory.md, "Twelfth
 * round"), so each `require` of one of them gets a stand-in that requires the real module at the
 * first property read (an `mqtts://` broker loads tls as it connects). Our own code loads node:https
 * on use too (src/node-http.ts).
 */
export const LAZY_BUILTINS = /^(node:)?(http2|https|tls)$/;

/**
 * A CommonJS stand-in for `specifier` that requires the real module at its first use: a property read,
 * `in`, `Object.keys`, and for a module that is a function (`callable`) a call or `new`. `esModule` is
 * what the real module's `__esModule` is, answered without loading it (TypeScript's `__importDefault`
 * reads it as the module loads).
 */
export function standInSource(specifier, { callable = false, esModule, deferredFunctions = [] } = {}) {
  const esModuleRead = esModule === undefined ? '' : `key === '__esModule' ? ${JSON.stringify(esModule)} : `;
  const deferredRead =
    deferredFunctions.length === 0 ? '' : 'Object.hasOwn(deferred, key) ? deferred[key] : ';
  const deferredTable =
    deferredFunctions.length === 0
      ? ''
      : `// Read as the importer loads, called later: answered with functions that load on their first call.
const deferred = Object.create(null);
for (const key of ${JSON.stringify(deferredFunctions)})
  deferred[key] = function (...args) {
    return load()[key].apply(this, args);
  };
`;
  // A bound function is callable and constructible and has no own `prototype`, which a Proxy would
  // have to report as it is.
  return `let real;
const load = () => (real ??= require(${JSON.stringify(specifier)}));
${deferredTable}module.exports = new Proxy(${callable ? 'function () {}.bind(null)' : '{}'}, {
  get: (_, key) => ${esModuleRead}${deferredRead}load()[key],
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor(_, key) {
    const d = Reflect.getOwnPropertyDescriptor(load(), key);
    return d && { ...d, configurable: true };
  },${
    callable
      ? `
  apply: (_, self, args) => Reflect.apply(load(), self, args),
  construct: (_, args, newTarget) => Reflect.construct(load(), args, newTarget),`
      : ''
  }
});
`;
}

export const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: LAZY_BUILTINS }, (args) =>
      args.kind === 'require-call' && args.namespace !== 'lazy-builtin'
        ? { path: `node:${args.path.replace(/^node:/, '')}`, namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: standInSource(args.path),
      loader: 'js',
    }));
  },
};

/**
 * Packages that a bundled package requires when it loads but uses only on paths the agent seldom
 * takes. Each `require` of one gets a stand-in (standInSource) and the package itself stays in
 * node_modules, out of the bundle: its text is not held in the heap and it is loaded, from node_modules,
 * only when that path is taken (docs/memory.md, "Thirteenth round" and "Fourteenth round"):
 * - `ws` (with zlib and the rest of a WebSocket stack), which MQTT.js requires as it first connects,
 *   for ws:// and wss:// brokers; `socks` (with ip-address and smart-buffer) for a SOCKS proxy;
 * - `worker-timers` (with broker-factory, fast-unique-numbers and @babel/runtime): MQTT.js's timers
 *   for browsers, never used in Node unless `timerVariant: 'worker'` is set (the agent does not);
 * - `thread-stream`: pino's transports in worker threads (the agent logs to a stream, not a transport);
 * - `@fastify/proxy-addr` (with ipaddr.js): fastify's `trustProxy` (off).
 * Not `safe-regex2` (with `ret`): find-my-way checks three of its own expressions with it as it loads;
 * not `lru-cache`: MQTT.js makes its topic-alias cache whenever an MQTT 5 broker offers aliases
 * (Mosquitto does), and the copy in node_modules is larger than the bundled one.
 */
export const LAZY_PACKAGES = ['ws', 'socks', 'worker-timers', 'thread-stream', '@fastify/proxy-addr'];

/**
 * Of LAZY_PACKAGES, those whose functions the importer reads as it loads and calls only later:
 * MQTT.js's get-timer keeps worker-timers' setInterval and clearInterval in an object at load. The
 * stand-in answers each function the package has with one that loads it on the first call.
 */
export const READ_AT_LOAD = ['worker-timers'];

/**
 * The plugin. `outdir` (the bundle's directory) makes the build check that each stand-in's require,
 * made from there at run time, finds the copy its importer would have found: another version nested
 * under the importer would otherwise be replaced by the top-level one.
 */
export function lazyPackages({ names = LAZY_PACKAGES, outdir } = {}) {
  const filter = new RegExp(`^(${names.map(escapeRegExp).join('|')})$`);
  return {
    name: 'lazy-packages',
    setup(b) {
      b.onResolve({ filter }, (args) => {
        // The stand-in's own require: left to node_modules at run time.
        if (args.namespace === 'lazy-package') return { path: args.path, external: true };
        if (args.kind !== 'require-call') return undefined;
        return { path: args.path, namespace: 'lazy-package', pluginData: { resolveDir: args.resolveDir } };
      });
      b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => {
        // What the real module is (a function? __esModule?), from the copy the importer would load.
        const fromImporter = createRequire(path.join(args.pluginData.resolveDir, 'index.js'));
        if (outdir !== undefined) {
          const atRunTime = createRequire(path.join(outdir, 'index.js')).resolve(args.path);
          const expected = fromImporter.resolve(args.path);
          if (atRunTime !== expected)
            return {
              errors: [
                {
                  text: `lazy package ${args.path}: the bundle would load ${atRunTime} where its importer in ${args.pluginData.resolveDir} loads ${expected}; take it out of LAZY_PACKAGES (scripts/lazy-builtins.mjs) or dedupe it`,
                },
              ],
            };
        }
        const real = fromImporter(args.path);
        return {
          contents: standInSource(args.path, {
            callable: typeof real === 'function',
            esModule: Boolean(real.__esModule),
            deferredFunctions: READ_AT_LOAD.includes(args.path)
              ? Object.keys(real).filter((key) => typeof real[key] === 'function')
              : [],
          }),
          loader: 'js',
        };
      });
    },
  };
}
