import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { AGENT_NODE_ARGS, jitNodeArgs } from '../../../src/service/memory-env.js';
import { runCli } from '../../helpers/cli.js';
import { FIXTURES, REPO } from '../../helpers/paths.js';
import { requireTool } from '../../helpers/system-tools.js';

// The unit's node arguments with the JIT on this Node (`--no-turbofan` on Node ≥ 24, written by the script).
const JIT_ARGS = [...AGENT_NODE_ARGS, ...jitNodeArgs()];

const run = promisify(execFile);
const isRoot = userInfo().uid === 0;
// The service user for the layout: `nobody` exists everywhere, so owners can be checked for real.
const USER = 'nobody';

/**
 * A source checkout for install.sh in a temp folder: the real script, unit, config, models and
 * samples; dist/ is a stub (the layout is install.sh's job; the compiled app is covered by the
 * dist smoke test in .ci/run), so the test does not need a 1-minute `npm run build`.
 */
function sourceTree(): string {
  const src = mkdtempSync(path.join(tmpdir(), 'ea-install-src-'));
  for (const f of [
    'package.json',
    'package-lock.json',
    '.npmrc',
    'agent.config.json',
    'agent.config.schema.json',
  ]) {
    cpSync(path.join(REPO, f), path.join(src, f));
  }
  for (const d of ['deploy', 'models', 'samples'])
    cpSync(path.join(REPO, d), path.join(src, d), { recursive: true });
  mkdirSync(path.join(src, 'scripts'));
  cpSync(path.join(REPO, 'scripts/install.sh'), path.join(src, 'scripts/install.sh'));
  mkdirSync(path.join(src, 'dist'));
  writeFileSync(path.join(src, 'dist/cli.js'), '// stub: install.sh only runs `config validate` with it\n');
  return src;
}

async function install(
  src: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string }> {
  return run('bash', [path.join(src, 'scripts/install.sh'), ...args], {
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
}

/** install.sh reads the board's RAM from this file (the lean runtime's auto choice). */
const memoryOf = (board: string) => ({
  EDGE_AGENT_MEMINFO: path.join(FIXTURES, 'hardware', board, 'proc/meminfo'),
});

interface Entry {
  mode: string;
  uid: number;
  gid: number;
  size: number;
  mtimeMs: number;
}

function snapshot(root: string): Record<string, Entry> {
  const out: Record<string, Entry> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = path.join(dir, name);
      const s = statSync(p);
      out[path.relative(root, p)] = {
        mode: (s.mode & 0o7777).toString(8),
        uid: s.uid,
        gid: s.gid,
        size: s.size,
        mtimeMs: s.mtimeMs,
      };
      if (s.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

const modeOf = (p: string) => (statSync(p).mode & 0o7777).toString(8);
const uidOf = async (user: string) => Number((await run('id', ['-u', user])).stdout.trim());

describe('scripts/install.sh --dry-run --root', () => {
  let src: string;
  let root: string;
  let first: { stdout: string; stderr: string };
  const flags = [
    '--camera',
    'synthetic',
    '--broker',
    'mqtt://10.1.2.3:1883',
    '--device-id',
    'yard-cam',
    '--group',
    'yard',
  ];

  beforeAll(async () => {
    src = sourceTree();
    root = mkdtempSync(path.join(tmpdir(), 'ea-install-root-'));
    // A board with 4 GB: the lean runtime stays off (auto).
    first = await install(
      src,
      ['--dry-run', '--root', root, '--user', USER, ...flags],
      memoryOf('x86-container'),
    );
  }, 180_000);

  it('lays out the app, config, data folder, command and unit with the right owners and modes', async () => {
    const at = (p: string) => path.join(root, p);
    expect(modeOf(at('opt/edge-agent'))).toBe('755');
    for (const f of [
      'dist/cli.js',
      'models/squeezenet1.1/manifest.json',
      'samples/coffee.png',
      'package.json',
    ]) {
      expect(existsSync(at(`opt/edge-agent/${f}`)), f).toBe(true);
    }
    expect(modeOf(at('etc/edge-agent'))).toBe('750');
    expect(modeOf(at('etc/edge-agent/agent.config.json'))).toBe('640');
    expect(modeOf(at('var/lib/edge-agent'))).toBe('750');
    expect(modeOf(at('etc/systemd/system/edge-agent.service'))).toBe('644');
    expect(modeOf(at('usr/local/bin/edge-agent'))).toBe('755');
    if (isRoot) {
      const uid = await uidOf(USER);
      expect(statSync(at('etc/edge-agent')).uid).toBe(uid);
      expect(statSync(at('etc/edge-agent/agent.config.json')).uid).toBe(uid);
      expect(statSync(at('var/lib/edge-agent')).uid).toBe(uid);
      expect(statSync(at('opt/edge-agent')).uid).toBe(0);
      expect(statSync(at('opt/edge-agent/dist/cli.js')).uid).toBe(0);
    }
    // System changes are only printed: the user's groups, the production dependencies.
    expect(first.stdout).toMatch(/\[dry-run\] usermod -aG video nobody/);
    expect(first.stdout).toMatch(/\[dry-run\] npm ci --omit=dev .*opt\/edge-agent/); // no node_modules in this checkout
    expect(existsSync(at('opt/edge-agent/node_modules'))).toBe(false);
    expect(first.stdout).toMatch(/systemctl status edge-agent/);
    expect(first.stdout).toMatch(/edge-agent doctor/);
  });

  it('writes the config from the flags, and the copy in /etc finds the bundled models', async () => {
    const file = path.join(root, 'etc/edge-agent/agent.config.json');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    expect(config).toMatchObject({
      deviceId: 'yard-cam',
      dataDir: '/var/lib/edge-agent',
      camera: { source: 'synthetic' },
      mqtt: { url: 'mqtt://10.1.2.3:1883', groups: ['yard'] },
      models: { dir: './models', default: 'yolox-nano' },
    });
    const validate = await runCli(['config', 'validate', file]);
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
  });

  it('installs a unit that systemd-analyze verify accepts', async () => {
    if (!requireTool('systemd-analyze', 'systemd')) return;
    const unit = path.join(root, 'etc/systemd/system/edge-agent.service');
    const text = readFileSync(unit, 'utf8');
    expect(text).toMatch(/^Type=notify$/m);
    expect(text).toMatch(/^WatchdogSec=\d+$/m);
    expect(text).toMatch(
      `ExecStart=${process.execPath} ${JIT_ARGS.join(' ')} /opt/edge-agent/dist/cli.js run`,
    );
    const { stderr } = await run('systemd-analyze', ['verify', unit]);
    expect(stderr).toBe('');
  });

  it('is idempotent (a second run changes nothing) and never overwrites an existing config', async () => {
    const before = snapshot(root);
    const second = await install(
      src,
      ['--dry-run', '--root', root, '--user', USER, ...flags],
      memoryOf('x86-container'),
    );
    expect(second.stdout).toMatch(/already installed, nothing changed/);
    expect(snapshot(root)).toEqual(before);

    const file = path.join(root, 'etc/edge-agent/agent.config.json');
    writeFileSync(file, '{"deviceId":"mine","mqtt":{"url":"mqtt://mine:1883"}}\n');
    const third = await install(src, [
      '--dry-run',
      '--root',
      root,
      '--user',
      USER,
      '--broker',
      'mqtt://other:1883',
    ]);
    expect(readFileSync(file, 'utf8')).toBe('{"deviceId":"mine","mqtt":{"url":"mqtt://mine:1883"}}\n');
    expect(third.stdout).toMatch(/kept the existing .*agent\.config\.json \(never overwritten\)/);
    expect(third.stdout).toMatch(/apply to a new config only/);
  });

  it('--uninstall removes what it added and keeps config and data; --purge removes them too', async () => {
    writeFileSync(path.join(root, 'var/lib/edge-agent/edge-agent.db'), 'data');
    const out = await install(src, ['--uninstall', '--root', root]);
    expect(out.stdout).toMatch(/kept .*etc\/edge-agent and .*var\/lib\/edge-agent/);
    for (const gone of [
      'opt/edge-agent',
      'etc/systemd/system/edge-agent.service',
      'usr/local/bin/edge-agent',
    ]) {
      expect(existsSync(path.join(root, gone)), gone).toBe(false);
    }
    expect(readFileSync(path.join(root, 'var/lib/edge-agent/edge-agent.db'), 'utf8')).toBe('data');
    expect(existsSync(path.join(root, 'etc/edge-agent/agent.config.json'))).toBe(true);

    await install(src, ['--uninstall', '--purge', '--root', root]);
    expect(existsSync(path.join(root, 'etc/edge-agent'))).toBe(false);
    expect(existsSync(path.join(root, 'var/lib/edge-agent'))).toBe(false);
  });

  it('the lean runtime: auto puts --lite-mode on ExecStart for a board with 1 GiB or less (Pi Zero 2 W), --lean off keeps the JIT, a bad value is refused', async () => {
    const zero = mkdtempSync(path.join(tmpdir(), 'ea-install-zero-'));
    const unit = () => readFileSync(path.join(zero, 'etc/systemd/system/edge-agent.service'), 'utf8');
    const auto = await install(
      src,
      ['--dry-run', '--root', zero, '--user', USER],
      memoryOf('raspberry-pi-zero-2'),
    );
    expect(auto.stdout).toContain(
      `lean runtime: on (auto: 429 MB of RAM, Node.js ${process.versions.node.split('.')[0]}`,
    );
    const lean = `ExecStart=${process.execPath} ${AGENT_NODE_ARGS.join(' ')} --lite-mode /opt/edge-agent/dist/cli.js run`;
    expect(unit()).toContain(lean);
    const off = await install(
      src,
      ['--dry-run', '--root', zero, '--user', USER, '--lean', 'off'],
      memoryOf('raspberry-pi-zero-2'),
    );
    expect(off.stdout).toContain('lean runtime: off (--lean)');
    expect(unit()).not.toMatch(/^ExecStart=.*--lite-mode/m);
    expect(unit()).toContain(
      `ExecStart=${process.execPath} ${JIT_ARGS.join(' ')} /opt/edge-agent/dist/cli.js run`,
    );
    await expect(install(src, ['--dry-run', '--root', zero, '--lean', 'maybe'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/--lean must be auto, on or off, got "maybe"/),
    });
    // The 4 GB board of the first install: off.
    expect(first.stdout).toMatch(/lean runtime: off \(auto: \d+ MB of RAM/);
  }, 180_000);

  it('refuses unknown options and --purge without --uninstall', async () => {
    await expect(install(src, ['--frobnicate'])).rejects.toMatchObject({ code: 1 });
    await expect(install(src, ['--purge', '--root', root])).rejects.toMatchObject({
      stderr: expect.stringMatching(/--purge goes with --uninstall/),
    });
    // A dry run never touches this host: without --root it refuses.
    await expect(install(src, ['--dry-run'])).rejects.toMatchObject({
      stderr: expect.stringMatching(/--dry-run lays the files out under --root DIR/),
    });
  });
});
