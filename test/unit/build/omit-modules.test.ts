import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { omitModules, REFUSED } from '../../../scripts/omit-modules.mjs';
import { bundleSnippet, runJson } from '../../helpers/bundle-snippet.js';
import { REPO } from '../../helpers/paths.js';

// scripts/bundle.mjs leaves out what the run path never runs: zod's translations other than English,
// fastify's JSON Schema compilers and its inject(). Bundled inside the repository so that node_modules
// resolves as for dist/.
mkdirSync(path.join(REPO, 'test-artifacts'), { recursive: true });
const work = mkdtempSync(path.join(REPO, 'test-artifacts', 'omit-modules-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bundle = (source: string, plugins: unknown[] = [omitModules]) =>
  bundleSnippet(source, { plugins, dir: work });
const run = runJson;

describe('modules left out of the bundle (scripts/omit-modules.mjs)', () => {
  it('zod keeps English alone: its messages are unchanged, the other translations are not in the bundle', async () => {
    const source = `
      import { z } from 'zod';
      const r = z.object({ port: z.number().int().max(65535) }).safeParse({ port: 70000.5 });
      console.log(JSON.stringify({ locales: Object.keys(z.locales), messages: r.error.issues.map((i) => i.message) }));
    `;
    const full = await bundle(source, []);
    const lean = await bundle(source);
    const locales = (inputs: string[]) => inputs.filter((i) => /zod\/v4\/locales\/(?!index)/.test(i));
    expect(locales(full.inputs).length).toBeGreaterThan(30);
    expect(locales(lean.inputs)).toEqual([expect.stringMatching(/zod\/v4\/locales\/en\.js$/)]);
    const a = run(full.out);
    const b = run(lean.out);
    expect(b.locales).toEqual(['en']);
    expect(b.messages).toEqual(a.messages);
    expect(b.messages.join(' ')).toMatch(/expected int|Too big/i);
  });

  it('a refused package throws when required, naming itself and why; nothing of it is bundled', async () => {
    expect(Object.keys(REFUSED)).toEqual(
      expect.arrayContaining([
        '@fastify/ajv-compiler',
        '@fastify/fast-json-stringify-compiler',
        'light-my-request',
      ]),
    );
    const { out, inputs } = await bundle(`
      const out = {};
      const attempt = (name, load) => { try { load(); out[name] = 'loaded'; } catch (e) { out[name] = e.message; } };
      ${Object.keys(REFUSED)
        .map((name) => `attempt(${JSON.stringify(name)}, () => require(${JSON.stringify(name)}));`)
        .join('\n')}
      console.log(JSON.stringify(out));
    `);
    expect(
      inputs.filter((i) => /node_modules\/(ajv|fast-uri|@fastify\/ajv-compiler|light-my-request)\//.test(i)),
    ).toEqual([]);
    const result = run(out) as Record<string, string>;
    for (const [name, why] of Object.entries(REFUSED as Record<string, string>))
      expect(result[name]).toBe(`${name} is not in edge-agent's bundle (scripts/omit-modules.mjs): ${why}`);
  });

  it("fastify from the bundle serves routes without its compilers when given the agent's factories", async () => {
    const { out, inputs } = await bundle(`
      import Fastify from 'fastify';
      const refuse = () => { throw new Error('no JSON schemas'); };
      const app = Fastify({ schemaController: { compilersFactory: { buildValidator: refuse, buildSerializer: refuse } } });
      app.post('/echo', async (req) => ({ got: req.body }));
      const url = await app.listen({ port: 0, host: '127.0.0.1' });
      const res = await fetch(url + '/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
      const missing = await fetch(url + '/nowhere');
      console.log(JSON.stringify({ status: res.status, body: await res.json(), missing: missing.status, error: await missing.json() }));
      await app.close();
    `);
    expect(inputs.some((i) => /node_modules\/fastify\//.test(i))).toBe(true);
    expect(inputs.filter((i) => /node_modules\/(ajv|@fastify\/ajv-compiler)\//.test(i))).toEqual([]);
    const r = run(out);
    expect(r).toMatchObject({ status: 200, body: { got: { a: 1 } }, missing: 404 });
    expect(r.error.message).toMatch(/not found/);
  });
});
