import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRASH_POINTS } from '../../../src/fleet/deploy/crash-points.js';
import { MAX_RESUMES } from '../../../src/fleet/deploy/resume.js';
import { TSX_LOADER } from '../../helpers/cli.js';
import { requireUsableTool } from '../../helpers/system-tools.js';
import {
  MODEL,
  modelServer,
  rangeStart,
  sendModel,
  signedManifest as signedManifestOf,
  TRUSTED_KEY,
} from './support.js';

const HALF = Math.floor(MODEL.length / 2);
const CHILD = path.join(import.meta.dirname, 'crash-child.ts');
// The install-order check traces the device process; CI (EDGE_AGENT_CI=1) fails without a working strace.
const hasStrace = requireUsableTool('strace', 'strace', () =>
  execFileSync('strace', ['-f', '-qq', '-e', 'trace=fsync', '-o', '/dev/null', 'true'], { stdio: 'pipe' }),
);

/** Requests seen (their Range header); `stallFirst`: the first answer sends half the file, then hangs. */
const served: Array<string | undefined> = [];
let stallFirst = false;
let server: Awaited<ReturnType<typeof modelServer>>;
beforeAll(async () => {
  server = await modelServer(
    {
      '/m.onnx': (req, res) => {
        if (!stallFirst) return sendModel(res, { from: rangeStart(req) });
        stallFirst = false;
        sendModel(res, { from: rangeStart(req), only: HALF }); // …and nothing more: the device is killed meanwhile
      },
    },
    { onRequest: (req) => served.push(req.headers.range) },
  );
});
afterAll(() => server.close());

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: Array<Record<string, unknown>>;
  stderr: string;
}

/** The device process (crash-child.ts) until it exits; `kill` lets the test SIGKILL it from outside. */
function device(
  dataDir: string,
  opts: { crashAt?: string; manifest?: string; kill?: (pid: number) => Promise<void>; strace?: string } = {},
) {
  const node = [
    process.execPath,
    '--import',
    TSX_LOADER,
    CHILD,
    dataDir,
    TRUSTED_KEY,
    ...(opts.manifest ? [opts.manifest] : []),
  ];
  // -y: file descriptors shown with their paths; -f: libuv's threads do the file I/O.
  const argv = opts.strace
    ? [
        'strace',
        '-f',
        '-y',
        '-qq',
        '-e',
        'trace=fsync,fdatasync,rename,renameat,renameat2',
        '-o',
        opts.strace,
        ...node,
      ]
    : node;
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { ...process.env, ...(opts.crashAt ? { EDGE_AGENT_TEST_CRASH_AT: opts.crashAt } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let stderr = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (stderr += d));
  if (opts.kill) void opts.kill(child.pid!);
  return new Promise<Run>((resolve) =>
    child.on('exit', (code, signal) =>
      resolve({
        code,
        signal,
        stderr,
        lines: out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      }),
    ),
  );
}

function signedManifest(dataDir: string): string {
  const file = path.join(dataDir, 'manifest.signed.json');
  writeFileSync(file, JSON.stringify(signedManifestOf({ url: `${server.base}/m.onnx` })));
  return file;
}

function integrity(dataDir: string): unknown {
  const db = new Database(path.join(dataDir, 'edge-agent.db'), { readonly: true });
  try {
    return db.pragma('integrity_check', { simple: true });
  } finally {
    db.close();
  }
}

const started = (r: Run) => r.lines.find((l) => l.event === 'started');
const done = (r: Run) =>
  r.lines.find((l) => l.event === 'done') as { update: Record<string, unknown>; active: unknown };
const OLD = { model: 'ultraface', variant: 'slim-320' };
const NEW = { model: 'ultraface', variant: 'slim-v2' };
const installDir = (d: string) => path.join(d, 'models/ultraface');
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

/**
 * SIGKILL at each step of a deployment (EDGE_AGENT_TEST_CRASH_AT, a test-only hook), then a
 * restart: exactly one of {old, new} is active and loads in onnxruntime, the deployment resumes
 * from the stored signed manifest (no resend) and commits, and SQLite's integrity check is ok.
 */
describe('a deployment survives SIGKILL at every step', () => {
  /** What must hold on disk right after the kill, per crash point. */
  const afterKill: Record<string, (dataDir: string) => void> = {
    downloaded: (d) => {
      expect(statSync(path.join(d, 'deploy/ultraface-slim-v2.part')).size).toBe(MODEL.length);
      expect(files(installDir(d))).toEqual([]);
    },
    'install-fsynced': (d) => {
      // The complete temp copy exists; nothing at the active path yet.
      expect(files(installDir(d)).filter((f) => f.endsWith('.tmp'))).toHaveLength(1);
      expect(files(installDir(d))).not.toContain('slim-v2.onnx');
    },
    'install-renamed': (d) => {
      // The file is in place but the catalog does not list it yet: the old model is the only choice.
      expect(readFileSync(path.join(installDir(d), 'slim-v2.onnx')).equals(MODEL)).toBe(true);
      expect(files(installDir(d))).not.toContain('manifest.json');
    },
    health: (d) => {
      // Installed and switched to, but not configured: the restart runs the old model.
      expect(files(installDir(d))).toContain('slim-v2.onnx');
      expect(existsSync(path.join(d, 'active.json'))).toBe(false);
    },
    'before-commit': (d) => {
      expect(JSON.parse(readFileSync(path.join(d, 'active.json'), 'utf8'))).toEqual(NEW);
    },
  };

  for (const point of CRASH_POINTS) {
    it(`killed at "${point}": restarts on one loadable model, resumes without a resend, commits`, async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), `ea-crash-${point}-`));
      const killed = await device(dataDir, { crashAt: point, manifest: signedManifest(dataDir) });
      expect(killed.signal, killed.stderr).toBe('SIGKILL');
      expect(started(killed)).toMatchObject({ active: OLD, loads: true });
      expect(done(killed)).toBeUndefined();
      afterKill[point]!(dataDir);
      expect(integrity(dataDir)).toBe('ok');

      const before = served.length;
      const restarted = await device(dataDir); // no manifest: the stored one is re-verified
      expect(restarted.code, restarted.stderr).toBe(0);
      expect(started(restarted)).toMatchObject({
        active: point === 'before-commit' ? NEW : OLD,
        loads: true,
      });
      expect(restarted.lines).toContainEqual(
        expect.objectContaining({ event: 'progress', state: 'resuming' }),
      );
      expect(done(restarted)).toMatchObject({
        update: { state: 'committed', installedVersion: 2, latestVersion: 2 },
        active: NEW,
      });
      expect(served.length - before).toBe(0); // the verified file was reused, not fetched again
      expect(files(installDir(dataDir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(files(path.join(dataDir, 'deploy'))).toEqual([]);
      expect(integrity(dataDir)).toBe('ok');

      // And the next start: the committed model, loadable; nothing left to resume.
      const again = await device(dataDir);
      expect(started(again)).toMatchObject({ active: NEW, loads: true });
      expect(again.lines.some((l) => l.state === 'resuming')).toBe(false);
    }, 120_000);
  }

  it('a model that kills the agent in every health window: given up after the resumes, rolled back, the old model serves', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ea-crash-loop-'));
    let run = await device(dataDir, { crashAt: 'health', manifest: signedManifest(dataDir) });
    for (let i = 0; i < MAX_RESUMES; i++) {
      expect(run.signal).toBe('SIGKILL');
      run = await device(dataDir, { crashAt: 'health' });
      expect(run.lines).toContainEqual(expect.objectContaining({ state: 'resuming', from: 'health' }));
    }
    expect(run.signal).toBe('SIGKILL');
    const last = await device(dataDir, { crashAt: 'health' });
    expect(last.code, last.stderr).toBe(0);
    expect(started(last)).toMatchObject({ active: OLD, loads: true });
    expect(done(last)).toMatchObject({ update: { state: 'rolled-back', installedVersion: 0 }, active: OLD });
    expect(String(done(last).update.error)).toMatch(
      new RegExp(`agent stopped during health ${MAX_RESUMES + 1} times; given up`),
    );
    // The refused variant left the catalog (nothing picks it later); its file is gone.
    expect(files(installDir(dataDir))).not.toContain('slim-v2.onnx');
    expect(integrity(dataDir)).toBe('ok');
  }, 180_000);

  it('killed in the middle of the download: the restart continues with a Range request', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'ea-crash-mid-'));
    const part = path.join(dataDir, 'deploy/ultraface-slim-v2.part');
    stallFirst = true;
    const before = served.length;
    const killed = await device(dataDir, {
      manifest: signedManifest(dataDir),
      // Killed from outside once half the file is on disk (the server sends no more).
      kill: async (pid) => {
        while (!(existsSync(part) && statSync(part).size >= HALF))
          await new Promise((r) => setTimeout(r, 50));
        process.kill(pid, 'SIGKILL');
      },
    });
    expect(killed.signal).toBe('SIGKILL');
    expect(integrity(dataDir)).toBe('ok');
    const restarted = await device(dataDir);
    expect(started(restarted)).toMatchObject({ active: OLD, loads: true });
    expect(done(restarted)).toMatchObject({
      update: { state: 'committed', installedVersion: 2 },
      active: NEW,
    });
    expect(served.slice(before)).toEqual([undefined, `bytes=${HALF}-`]);
    expect(integrity(dataDir)).toBe('ok');
  }, 120_000);

  it.skipIf(!hasStrace)(
    'the install is temp file, fsync, rename, fsync of the folder — before the catalog manifest names it (strace)',
    async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), 'ea-crash-strace-'));
      const trace = path.join(dataDir, 'strace.txt');
      const run = await device(dataDir, { manifest: signedManifest(dataDir), strace: trace });
      expect(done(run)).toMatchObject({ update: { state: 'committed' } });
      const dir = installDir(dataDir);
      const calls = readFileSync(trace, 'utf8')
        .split('\n')
        .map((l) => l.replace(/^\d+\s+/, ''))
        .filter((l) => l.includes(dir));
      const index = (re: RegExp) => {
        const i = calls.findIndex((l) => re.test(l));
        expect(i, `${re} in\n${calls.join('\n')}`).toBeGreaterThanOrEqual(0);
        return i;
      };
      const esc = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const tmpSynced = index(
        new RegExp(`^f(data)?sync\\(\\d+<${esc}/\\.slim-v2\\.onnx\\.[0-9a-f]+\\.tmp>\\)`),
      );
      const renamed = index(
        new RegExp(`^rename(at2?)?\\(.*${esc}/\\.slim-v2\\.onnx\\.[0-9a-f]+\\.tmp".*"${esc}/slim-v2\\.onnx"`),
      );
      const dirSynced = calls.findIndex(
        (l, i) => i > renamed && new RegExp(`^fsync\\(\\d+<${esc}>\\)`).test(l),
      );
      const manifestRenamed = index(new RegExp(`^rename(at2?)?\\(.*"${esc}/manifest\\.json"`));
      expect(tmpSynced).toBeLessThan(renamed);
      expect(dirSynced, calls.join('\n')).toBeGreaterThan(renamed);
      expect(dirSynced).toBeLessThan(manifestRenamed);
    },
    120_000,
  );
});
