import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build scripts, without types
import { LAZY_PACKAGES, lazyBuiltins, lazyPackages } from '../../../scripts/lazy-builtins.mjs';
import { bundleSnippet, runJson } from '../../helpers/bundle-snippet.js';
import { REPO } from '../../helpers/paths.js';

// scripts/bundle.mjs's stand-ins for node:tls, node:https and node:http2: a package that requires one
// at load does not load it until it reads from it, and then gets the real module.
const work = mkdtempSync(path.join(tmpdir(), 'ea-lazy-builtins-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bundle = async (source: string, plugins: unknown[] = [lazyBuiltins], dir = work) =>
  (await bundleSnippet(source, { plugins, dir, ext: 'cjs' })).out;
const run = runJson;
const loadedTls = "process.moduleLoadList.includes('NativeModule tls')";

describe('lazy built-ins in the bundle (scripts/lazy-builtins.mjs)', () => {
  it('requiring node:tls loads nothing; the first read loads the real module', async () => {
    const file = await bundle(`
      const tls = require('tls');
      const https = require('node:https');
      const before = ${loadedTls};
      const connect = tls.connect;
      const real = process.getBuiltinModule('node:tls');
      console.log(JSON.stringify({
        before,
        after: ${loadedTls},
        same: connect === real.connect && tls.TLSSocket === real.TLSSocket,
        inOperator: 'connect' in tls && !('nothing' in tls),
        keys: Object.keys(tls).sort().join() === Object.keys(real).sort().join(),
        httpsAgent: typeof https.Agent === 'function' && https.globalAgent instanceof https.Agent,
      }));
    `);
    expect(run(file)).toEqual({
      before: false,
      after: true,
      same: true,
      inOperator: true,
      keys: true,
      httpsAgent: true,
    });
  });

  it('leaves other built-ins and ES module imports alone', async () => {
    const file = await bundle(`
      const net = require('net');
      console.log(JSON.stringify({ net: process.moduleLoadList.includes('NativeModule net'), isIP: net.isIP('::1') }));
    `);
    expect(run(file)).toEqual({ net: true, isIP: 6 });
  });
});

describe('lazy packages in the bundle (scripts/lazy-builtins.mjs lazyPackages)', () => {
  // Inside the repository, so that ws and socks resolve from node_modules at build and at run time.
  mkdirSync(path.join(REPO, 'test-artifacts'), { recursive: true });
  const inRepo = mkdtempSync(path.join(REPO, 'test-artifacts', 'lazy-packages-'));
  afterAll(() => rmSync(inRepo, { recursive: true, force: true }));

  it('ws and socks: not loaded until used, then the real modules (a class constructs, __esModule answered)', async () => {
    const file = await bundle(
      `
      const real = process.getBuiltinModule('node:module').createRequire(${JSON.stringify(`${REPO}/`)});
      const loaded = (name) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + name + '/'));
      const ws = require('ws');
      const socks = require('socks');
      // TypeScript's __importDefault reads __esModule as a module loads: answered without loading.
      const esModule = { ws: ws.__esModule, socks: socks.__esModule };
      const before = { ws: loaded('ws'), socks: loaded('socks') };
      const sock = new ws('ws://127.0.0.1:9');
      sock.on('error', () => {});
      const RealWs = real('ws');
      const out = {
        esModule,
        before,
        callable: typeof ws,
        instance: sock instanceof RealWs && sock instanceof ws,
        statics: ws.createWebSocketStream === RealWs.createWebSocketStream,
        socksBeforeRead: loaded('socks'),
        socksClass: socks.SocksClient === real('socks').SocksClient,
        after: { ws: loaded('ws'), socks: loaded('socks') },
      };
      sock.terminate();
      console.log(JSON.stringify(out));
    `,
      [lazyPackages({ names: ['ws', 'socks'] })],
      inRepo,
    );
    expect(run(file)).toEqual({
      esModule: { ws: false, socks: true },
      before: { ws: false, socks: false },
      callable: 'function',
      instance: true,
      statics: true,
      socksBeforeRead: false,
      socksClass: true,
      after: { ws: true, socks: true },
    });
  });

  it("MQTT.js's worker timers, pino's thread-stream, fastify's proxy-addr: not loaded by requiring or by reading a function kept for later", async () => {
    const file = await bundle(
      `
      const real = process.getBuiltinModule('node:module').createRequire(${JSON.stringify(`${REPO}/`)});
      const loaded = (name) => Object.keys(require.cache).some((f) => f.includes('/node_modules/' + name + '/'));
      const timers = require('worker-timers');
      // As MQTT.js's get-timer does when it loads: the functions are read, not called.
      const workerTimer = { set: timers.setInterval, clear: timers.clearInterval };
      const ThreadStream = require('thread-stream');
      const proxyAddr = require('@fastify/proxy-addr');
      const before = { timers: loaded('worker-timers'), thread: loaded('thread-stream'), proxy: loaded('@fastify/proxy-addr') };
      let call;
      try {
        workerTimer.set(() => {}, 1000);
        call = 'no error';
      } catch (err) {
        call = err.message;
      }
      let realCall;
      try {
        real('worker-timers').setInterval(() => {}, 1000);
      } catch (err) {
        realCall = err.message;
      }
      const trust = proxyAddr.compile('127.0.0.1');
      console.log(JSON.stringify({
        before,
        types: [typeof workerTimer.set, typeof ThreadStream, typeof proxyAddr],
        call: call === realCall ? 'the real error' : call,
        trusts: trust('127.0.0.1', 0),
        sameCompile: proxyAddr.compile === real('@fastify/proxy-addr').compile,
        threadClass: ThreadStream.prototype === real('thread-stream').prototype,
        after: { timers: loaded('worker-timers'), proxy: loaded('@fastify/proxy-addr'), thread: loaded('thread-stream') },
      }));
    `,
      [lazyPackages()],
      inRepo,
    );
    expect(run(file)).toEqual({
      before: { timers: false, thread: false, proxy: false },
      types: ['function', 'function', 'function'],
      // worker-timers needs a browser's Worker: the call reaches the real module, which says so.
      call: 'the real error',
      after: { timers: true, proxy: true, thread: true },
      trusts: true,
      sameCompile: true,
      threadClass: true,
    });
  });

  it('refuses a lazy package that the bundle would resolve to another copy than its importer does', async () => {
    const importerDir = path.join(inRepo, 'importer');
    mkdirSync(path.join(importerDir, 'node_modules', 'socks'), { recursive: true });
    writeFileSync(
      path.join(importerDir, 'node_modules', 'socks', 'index.js'),
      'module.exports = { nested: true };\n',
    );
    writeFileSync(path.join(importerDir, 'uses.cjs'), "module.exports = require('socks');\n");
    await expect(
      bundle(
        `console.log(JSON.stringify(require('./importer/uses.cjs')));`,
        [lazyPackages({ outdir: inRepo })],
        inRepo,
      ),
    ).rejects.toThrow(
      /lazy package socks: the bundle would load .*node_modules\/socks\/.* where its importer .* loads .*importer\/node_modules\/socks\/index\.js/,
    );
    // An importer without a nested copy: the same build passes (another directory, as Node caches
    // what it resolved).
    const plain = path.join(inRepo, 'plain');
    mkdirSync(plain);
    writeFileSync(path.join(plain, 'uses.cjs'), "module.exports = require('socks');\n");
    const file = await bundle(
      `console.log(JSON.stringify({ type: typeof require('./plain/uses.cjs').SocksClient }));`,
      [lazyPackages({ outdir: inRepo })],
      inRepo,
    );
    expect(run(file)).toEqual({ type: 'function' });
  });

  it('every lazy package resolves from where the bundle runs (dist/bundle/), as the stand-ins require it', () => {
    const fromBundle = createRequire(path.join(REPO, 'dist', 'bundle', 'run-main.js'));
    for (const name of LAZY_PACKAGES as string[])
      expect(fromBundle.resolve(name), name).toContain(`${path.sep}node_modules${path.sep}`);
  });
});
