import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/paths.js';

// No Docker engine runs here, so Dockerfile.arm64 is never built in CI. Its build stage copies only
// some files into the image and runs `npm run build`: a script the build needs but the Dockerfile does
// not copy (scripts/bundle.mjs's own imports, say) fails only on the first real image build. This
// test replays the build stage's COPY lines into an empty directory (node_modules linked in, as
// `npm ci` would make it) and runs the same `npm run build` there.
const work = mkdtempSync(path.join(tmpdir(), 'ea-dockerfile-build-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The build stage's COPY lines as [sources, destination], and its WORKDIR. */
function buildStage(dockerfile: string): { workdir: string; copies: Array<[string[], string]> } {
  const lines = dockerfile.split('\n');
  const start = lines.findIndex((l) => /^FROM\s.*\sAS\s+build\s*$/i.test(l));
  expect(start, 'a FROM … AS build stage').toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && /^FROM\s/i.test(l));
  const stage = lines.slice(start + 1, end);
  const workdir = stage.find((l) => /^WORKDIR\s/i.test(l))?.split(/\s+/)[1] ?? '/';
  const copies = stage
    .filter((l) => /^COPY\s/i.test(l))
    .map((l): [string[], string] => {
      const words = l.split(/\s+/).slice(1);
      expect(
        words.filter((w) => w.startsWith('--')),
        `${l}: no flags expected in the build stage`,
      ).toEqual([]);
      return [words.slice(0, -1), words.at(-1)!];
    });
  return { workdir, copies };
}

describe('Dockerfile.arm64 build stage', () => {
  it('copies everything `npm run build` needs: the build succeeds from its COPY lines alone', () => {
    const { workdir, copies } = buildStage(readFileSync(path.join(REPO, 'Dockerfile.arm64'), 'utf8'));
    expect(workdir).toBe('/src');
    const root = path.join(work, 'src');
    mkdirSync(root);
    for (const [sources, dest] of copies) {
      const target = path.resolve(root, dest);
      for (const source of sources) {
        const from = path.join(REPO, source);
        expect(existsSync(from), `COPY ${source}: not in the repository`).toBe(true);
        // Docker's rules: a directory's contents go to the destination; a file goes into a
        // destination ending in '/', else becomes it.
        if (statSync(from).isDirectory()) cpSync(from, target, { recursive: true });
        else if (dest.endsWith('/')) {
          mkdirSync(target, { recursive: true });
          cpSync(from, path.join(target, path.basename(source)));
        } else cpSync(from, target);
      }
    }
    symlinkSync(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
    const build = spawnSync('npm', ['run', 'build'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
    expect(build.status, `${build.stdout}\n${build.stderr}`).toBe(0);
    for (const file of [
      'dist/cli.js',
      'dist/bundle/run-main.js',
      'dist/bundle/worker-main.js',
      'dist/inference/serve-session.mjs',
    ])
      expect(existsSync(path.join(root, file)), file).toBe(true);
  }, 300_000);
});
