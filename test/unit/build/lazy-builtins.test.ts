import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module of the build scripts, without types
import { lazyBuiltins } from '../../../scripts/lazy-builtins.mjs';

// scripts/bundle.mjs's stand-ins for node:tls, node:https and node:http2: a package that requires one
// at load does not load it until it reads from it, and then gets the real module.
const work = mkdtempSync(path.join(tmpdir(), 'ea-lazy-builtins-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

async function bundle(source: string): Promise<string> {
  const entry = path.join(work, `entry-${Math.random().toString(36).slice(2)}.cjs`);
  writeFileSync(entry, source);
  const out = `${entry}.bundle.mjs`;
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    plugins: [lazyBuiltins],
    logLevel: 'silent',
  });
  return out;
}

const run = (file: string) => JSON.parse(execFileSync(process.execPath, [file], { encoding: 'utf8' }));
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
