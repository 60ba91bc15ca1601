import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build scripts, without types
import { LAZY_PACKAGES } from '../../../scripts/lazy-builtins.mjs';
import { AGENT_MALLOC_ENV, AGENT_NODE_ARGS } from '../../../src/service/memory-env.js';
import { AgentProcess } from '../../helpers/agent-process.js';
import { freePort, Mosquitto, requireMosquitto } from '../../helpers/mosquitto.js';
import { REPO } from '../../helpers/paths.js';

// The build a device runs (scripts/bundle.mjs): `npm run build`'s steps into a scratch dist/ inside
// the repository (so node_modules resolves as it does for dist/), then the agent run from it.
const LOAD_HOOK = pathToFileURL(path.join(REPO, 'test/helpers/resolve-log.mjs')).href;
const TLS = path.join(REPO, 'test/integration/mqtt/fixtures/tls');
let work: string;
let dist: string;

beforeAll(() => {
  mkdirSync(path.join(REPO, 'test-artifacts'), { recursive: true });
  work = mkdtempSync(path.join(REPO, 'test-artifacts', 'bundle-'));
  dist = path.join(work, 'dist');
  const node = (args: string[]) => execFileSync(process.execPath, args, { cwd: REPO, stdio: 'pipe' });
  node([path.join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist]);
  node(['scripts/copy-build-assets.mjs', dist]);
  node(['scripts/bundle.mjs', dist]);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/**
 * The packages whose CommonJS modules a process's threads loaded (EA_CJS_LOG of the load hook), or
 * only the threads `thread` accepts (ids as logged: 0 is the main thread).
 */
const cjsPackages = (log: string, pid: string, thread: (id: string) => boolean = () => true) => [
  ...new Set(
    readFileSync(log, 'utf8')
      .split('\n')
      .map((line) => line.split('\t'))
      .filter(([p, t]) => p === pid && t !== undefined && thread(t))
      .map(([, , file]) => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file ?? '')?.[1])
      .filter((p) => p !== undefined),
  ),
];

const rel = (file: string) => path.relative(dist, file).split(path.sep).join('/');

describe('the bundled run path (scripts/bundle.mjs)', () => {
  it('bundles the run path and the pipeline worker, leaving out native addons and mqtt-packet', () => {
    const meta = JSON.parse(readFileSync(path.join(dist, 'bundle/meta.json'), 'utf8')) as {
      inputs: Record<string, unknown>;
      outputs: Record<string, { entryPoint?: string }>;
    };
    // esbuild names inputs relative to the directory it ran in (the repository).
    const inputs = Object.keys(meta.inputs).map((p) => path.resolve(REPO, p));
    const fromDist = new Set(inputs.filter((p) => p.startsWith(dist + path.sep)).map(rel));
    for (const module of ['cli/run-main.js', 'pipeline/remote/worker-main.js', 'http/server.js', 'agent.js'])
      expect(fromDist).toContain(module);
    const packages = new Set(
      inputs.map((p) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(p)?.[1]).filter((p) => p !== undefined),
    );
    for (const bundled of ['fastify', 'zod', 'mqtt', 'pino']) expect(packages).toContain(bundled);
    for (const external of [
      'onnxruntime-node',
      'better-sqlite3',
      'sharp',
      'mqtt-packet',
      'readable-stream',
      'debug',
      'semver',
      // Behind stand-ins that load them from node_modules on use (scripts/lazy-builtins.mjs).
      'ws',
      'socks',
      'ip-address',
      'smart-buffer',
      'worker-timers',
      'broker-factory',
      '@babel/runtime',
      'thread-stream',
      '@fastify/proxy-addr',
      'ipaddr.js',
    ])
      expect(packages).not.toContain(external);
    // What the run path never runs is left out (scripts/omit-modules.mjs): fastify's JSON Schema
    // compilers and inject(), zod's translations but English.
    for (const omitted of [
      'ajv',
      'fast-uri',
      '@fastify/ajv-compiler',
      '@fastify/fast-json-stringify-compiler',
      'light-my-request',
    ])
      expect(packages).not.toContain(omitted);
    expect(
      inputs.filter((p) => /zod\/v4\/locales\/(?!index\.js)/.test(p)).map((p) => path.basename(p)),
    ).toEqual(['en.js']);
    // The schemas use zod's functional API (src/zod.ts): the classic API's ~130 KB stay out.
    expect(inputs.filter((p) => /zod\/v4\/classic\//.test(p)).map((p) => path.basename(p))).toEqual([]);
    // An external is required from dist/bundle/ at run time: each bundled module that imports one must
    // resolve it to that same file, or it would get another version than it was written against.
    const importers = meta.inputs as Record<string, { imports?: { path: string; external?: boolean }[] }>;
    for (const shared of ['readable-stream', 'debug', 'semver']) {
      const atRunTime = createRequire(path.join(dist, 'bundle/run-main.js')).resolve(shared);
      const from = Object.entries(importers).filter(([, i]) => i.imports?.some((m) => m.path === shared));
      expect(from.length).toBeGreaterThan(0);
      for (const [importer] of from)
        expect(createRequire(path.resolve(REPO, importer)).resolve(shared), importer).toBe(atRunTime);
    }
    const entries = Object.values(meta.outputs).map((o) => o.entryPoint && path.resolve(REPO, o.entryPoint));
    expect(entries.filter(Boolean).map((e) => rel(e!))).toEqual(
      expect.arrayContaining(['cli/run-main.js', 'pipeline/remote/worker-main.js']),
    );

    // The two compiled modules now re-export their bundles; everything else is tsc's output.
    expect(readFileSync(path.join(dist, 'cli/run-main.js'), 'utf8')).toMatch(
      /^\/\/ Bundled by scripts\/bundle\.mjs.*\nexport \* from '\.\.\/bundle\/run-main\.js';\n$/,
    );
    expect(readFileSync(path.join(dist, 'pipeline/remote/worker-main.js'), 'utf8')).toContain(
      "export * from '../../bundle/worker-main.js';",
    );
    expect(readFileSync(path.join(dist, 'http/server.js'), 'utf8')).toContain('import.meta.url');

    // Bundling a bundle's re-export would make a loop: refused with what to do.
    const again = spawnSync(process.execPath, ['scripts/bundle.mjs', dist], { cwd: REPO, encoding: 'utf8' });
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('npm run build');
  });

  it('serves from the bundle: results from the worker, the dashboard, MQTT, a clean stop; the module tree unloaded', async () => {
    const loadLog = path.join(work, 'loaded.txt');
    const builtinsLog = path.join(work, 'builtins.txt');
    const cjsLog = path.join(work, 'cjs.txt');
    const agent = AgentProcess.start(
      { mqtt: { embedded: { port: 0 } }, camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 } },
      { ...AGENT_MALLOC_ENV, EA_LOAD_LOG: loadLog, EA_BUILTINS_LOG: builtinsLog, EA_CJS_LOG: cjsLog },
      { cli: path.join(dist, 'cli.js'), nodeArgs: [...AGENT_NODE_ARGS, '--import', LOAD_HOOK] },
    );
    try {
      const url = await agent.url();
      const latest = await agent.firstResult();
      expect(Array.isArray(latest.detections)).toBe(true);
      // The dashboard's files are found through a rewritten import.meta.url (dist/http/public).
      expect(await (await fetch(`${url}/`)).text()).toContain('<title>edge-agent</title>');
      await agent.waitFor((l) => l.msg === 'mqtt connected');
      // The device profile probes onnxruntime's execution providers in the pipeline worker.
      const profile = (await (await fetch(`${url}/api/profile`)).json()) as {
        executionProviders: { available: string[] };
      };
      expect(profile.executionProviders.available).toContain('cpu');
      // MQTT.js bundled is no longer under node_modules, so Node 24 reports its url.parse (DEP0169)
      // unless the client gets options rather than a URL string (src/fleet/broker-url.ts).
      expect(agent.stderr).not.toContain('DeprecationWarning');
    } finally {
      const end = await agent.terminate();
      expect(end, agent.log()).toMatchObject({ code: 0 });
    }

    // The agent's own threads (main and pipeline worker) load dist/ only through the bundle; child
    // processes (provider probe, derivation) have other pids and load the module tree on purpose.
    const pid = String(agent.child.pid);
    const loaded = readFileSync(loadLog, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith(`${pid}\t`))
      .map((line) => new URL(line.slice(pid.length + 1)).pathname)
      .filter((file) => file.startsWith(dist + path.sep))
      .map(rel);
    expect(loaded.filter((f) => f.startsWith('bundle/')).length).toBeGreaterThan(5);
    expect(loaded).toContain('bundle/worker-main.js');
    expect([...new Set(loaded.filter((f) => !f.startsWith('bundle/')))].sort()).toEqual([
      'cli.js',
      'cli/run-main.js',
      'inference/telemetry-off.js',
      'pipeline/remote/boot.mjs',
      'pipeline/remote/worker-main.js',
      'service/memory-env.js',
    ]);
    expect(existsSync(path.join(agent.dataDir))).toBe(true);
    // The lazy packages stay in node_modules behind stand-ins (scripts/lazy-builtins.mjs): an mqtt://
    // broker, plain HTTP and logs to a stream load none of them (nor what they require).
    const fromNodeModules = cjsPackages(cjsLog, pid);
    expect(fromNodeModules).toEqual(expect.arrayContaining(['mqtt-packet', 'readable-stream', 'bl']));
    for (const lazy of [...LAZY_PACKAGES, 'ip-address', 'ipaddr.js', 'broker-factory'])
      expect(fromNodeModules).not.toContain(lazy);

    // onnxruntime-node is loaded by the pipeline worker only (its sessions and the provider probe),
    // never by the main thread.
    expect(cjsPackages(cjsLog, pid, (t) => t === '0').filter((p) => p.startsWith('onnxruntime-'))).toEqual(
      [],
    );
    expect(cjsPackages(cjsLog, pid, (t) => t !== '0')).toContain('onnxruntime-node');

    // Neither thread loads undici, Node's fetch: on Node 22/24 an ES module import of node:http
    // would (its lazy WebSocket export): ~1 MB of heap on Node 24 and a crash at start on Node 22's lean
    // runtime (src/node-http.ts). Node 20 never loads it from node:http; CI runs this file on 24 too.
    const threads = readFileSync(builtinsLog, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith(`${pid}\t`))
      .map((line) => line.split('\t'));
    // The main thread (0) and the pipeline worker (the loader hooks' own thread may log too).
    expect(threads.map(([, thread]) => thread)).toContain('0');
    expect(threads.length).toBeGreaterThanOrEqual(2);
    for (const [, thread, names] of threads)
      expect(
        names!.split(',').filter((n) => n.includes('undici')),
        `thread ${thread}`,
      ).toEqual([]);
    // The main thread serves HTTP: node:http is loaded, as CommonJS.
    expect(threads.find(([, thread]) => thread === '0')![2]!.split(',')).toContain('http');
    // Plain HTTP and an mqtt:// broker: no thread loads TLS, https or http2, which fastify, MQTT.js
    // and ws require at load (scripts/bundle.mjs gives them stand-ins; ~4 MB of RSS on Node 24).
    for (const [, thread, names] of threads)
      expect(
        names!.split(',').filter((n) => /^(tls|https|http2|internal\/(tls|http2)\/)/.test(n)),
        `thread ${thread}`,
      ).toEqual([]);
  }, 120_000);

  it.runIf(requireMosquitto())(
    'connects to a ws:// broker: the bundle loads ws from node_modules when the connection needs it',
    async () => {
      const wsPort = await freePort();
      const broker = await Mosquitto.start({
        extra: [`listener ${wsPort} 127.0.0.1`, 'protocol websockets'],
      });
      const cjsLog = path.join(work, 'cjs-ws.txt');
      const agent = AgentProcess.start(
        {
          mqtt: { url: `ws://127.0.0.1:${wsPort}` },
          camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 },
        },
        { ...AGENT_MALLOC_ENV, EA_CJS_LOG: cjsLog },
        { cli: path.join(dist, 'cli.js'), nodeArgs: [...AGENT_NODE_ARGS, '--import', LOAD_HOOK] },
      );
      try {
        await agent.waitFor((l) => l.msg === 'mqtt connected');
        // What the agent published over the WebSocket reaches a client on the broker's TCP listener.
        const observer = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
        try {
          const topic = new Promise<string>((resolve) => observer.on('message', (t) => resolve(t)));
          await observer.subscribeAsync('#');
          expect(await topic).toMatch(/\//);
        } finally {
          await observer.endAsync();
        }
      } finally {
        const end = await agent.terminate();
        await broker.stop();
        expect(end, agent.log()).toMatchObject({ code: 0 });
      }
      expect(cjsPackages(cjsLog, String(agent.child.pid))).toContain('ws');
    },
    120_000,
  );

  it.runIf(requireMosquitto())(
    'connects to an mqtts:// broker: the bundle loads TLS when the connection needs it',
    async () => {
      const broker = await Mosquitto.start({
        tls: {
          ca: `${TLS}/ca.crt`,
          cert: `${TLS}/server.crt`,
          key: `${TLS}/server.key`,
          requireCertificate: false,
        },
      });
      const builtinsLog = path.join(work, 'builtins-tls.txt');
      const agent = AgentProcess.start(
        {
          mqtt: {
            url: `mqtts://127.0.0.1:${broker.port}`,
            tls: { ca: `${TLS}/ca.crt`, servername: 'localhost' },
          },
          camera: { source: `images:${path.join(REPO, 'samples')}`, fps: 5 },
        },
        { ...AGENT_MALLOC_ENV, EA_BUILTINS_LOG: builtinsLog },
        { cli: path.join(dist, 'cli.js'), nodeArgs: [...AGENT_NODE_ARGS, '--import', LOAD_HOOK] },
      );
      try {
        await agent.waitFor((l) => l.msg === 'mqtt connected');
      } finally {
        const end = await agent.terminate();
        await broker.stop();
        expect(end, agent.log()).toMatchObject({ code: 0 });
      }
      const main = readFileSync(builtinsLog, 'utf8')
        .split('\n')
        .map((line) => line.split('\t'))
        .find(([pid, thread]) => pid === String(agent.child.pid) && thread === '0');
      expect(main?.[2]?.split(',')).toContain('tls');
    },
    120_000,
  );
});
