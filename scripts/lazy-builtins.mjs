// An esbuild plugin of scripts/bundle.mjs (tested on its own: test/unit/build/lazy-builtins.test.ts).
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
export const lazyBuiltins = {
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: LAZY_BUILTINS }, (args) =>
      args.kind === 'require-call' && args.namespace !== 'lazy-builtin'
        ? { path: `node:${args.path.replace(/^node:/, '')}`, namespace: 'lazy-builtin' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => ({
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(args.path)}));
module.exports = new Proxy({}, {
  get: (_, key) => load()[key],
  has: (_, key) => key in load(),
  ownKeys: () => Reflect.ownKeys(load()),
  getOwnPropertyDescriptor(_, key) {
    const d = Reflect.getOwnPropertyDescriptor(load(), key);
    return d && { ...d, configurable: true };
  },
});
`,
      loader: 'js',
    }));
  },
};
