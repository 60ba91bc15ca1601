// node:http loaded as CommonJS. Imported as an ES module, Node 22 and 24 build its module namespace
// by reading every export, and `WebSocket` among them is a lazy getter that loads undici, Node's
// fetch implementation, which the agent never runs: on Node 24 ~1 MB of the agent's main heap (6 MB
// RSS for a bare import), and on Node 22 a crash at start under the lean runtime, where undici's
// WebAssembly is missing (docs/memory.md, "Eleventh round"). `require` reads no exports; Node 20
// loads no undici either way. Every value import of node:http in src/ comes from here (biome's
// noRestrictedImports); types are imported from 'node:http' as usual.
//
// node:https (and node:tls under it) is loaded on first use: a device that never downloads over
// https nor speaks TLS to its broker does not carry it (~2 MB of RSS on Node 24; docs/memory.md,
// "Twelfth round"). scripts/bundle.mjs does the same for the packages that require it.
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http: typeof Http = require('node:http');

let httpsModule: typeof Https | undefined;

/** node:https, loaded by the first call. */
export function https(): typeof Https {
  httpsModule ??= require('node:https') as typeof Https;
  return httpsModule;
}
