// node:http loaded as CommonJS. Imported as an ES module, Node 22 and 24 build its module namespace
// by reading every export, and `WebSocket` among them is a lazy getter that loads undici, Node's
// fetch implementation, which the agent never runs: on Node 24 ~1 MB of the agent's main heap (6 MB
// RSS for a bare import), and on Node 22 a crash at start under the lean runtime, where undici's
// WebAssembly is missing (docs/memory.md, "Eleventh round"). `require` reads no exports; Node 20
// loads no undici either way. Every value import of node:http in src/ comes from here (biome's
// noRestrictedImports); types are imported from 'node:http' as usual.
import type * as Http from 'node:http';
import { createRequire } from 'node:module';

export const http: typeof Http = createRequire(import.meta.url)('node:http');
