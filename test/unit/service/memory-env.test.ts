import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AGENT_JIT_NODE_ARGS,
  AGENT_LEAN_NODE_ARGS,
  AGENT_MALLOC_ENV,
  AGENT_NODE_ARGS,
  agentRunsLean,
  inheritedJitNodeArgs,
  isLean,
  jitNodeArgs,
  memoryReexec,
  topTier,
} from '../../../src/service/memory-env.js';
import { REPO } from '../../helpers/paths.js';

// A Node without the JIT's arguments (Node 20 and 22: Maglev off), unless a test names another.
const NODE22 = '22.15.0';
/** The arm64 image's ENTRYPOINT arguments (Node 24). */
const ENTRY_ARGS = [...AGENT_NODE_ARGS, ...jitNodeArgs('24.0.0')];

describe('memoryReexec', () => {
  it('adds the missing malloc settings and the V8 flag, keeping the rest of the environment', () => {
    const plan = memoryReexec({ PATH: '/usr/bin', EMPTY: undefined }, ['--import', 'tsx'], NODE22);
    expect(plan).toEqual({
      env: { PATH: '/usr/bin', ...AGENT_MALLOC_ENV },
      execArgv: ['--max-semi-space-size=2', ...AGENT_NODE_ARGS, '--import', 'tsx'],
    });
  });

  it('does nothing when every malloc setting is there (no loop after re-executing)', () => {
    expect(memoryReexec({ ...AGENT_MALLOC_ENV }, [], NODE22)).toBeUndefined();
  });

  it("keeps the operator's values and semi-space size; fills only what is missing", () => {
    const plan = memoryReexec(
      { MALLOC_ARENA_MAX: '4', NODE_OPTIONS: '--max-semi-space-size=8 --enable-source-maps' },
      [],
      NODE22,
    );
    expect(plan?.env).toMatchObject({
      MALLOC_ARENA_MAX: '4',
      MALLOC_MMAP_THRESHOLD_: AGENT_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_,
      MALLOC_TRIM_THRESHOLD_: AGENT_MALLOC_ENV.MALLOC_TRIM_THRESHOLD_,
    });
    expect(plan?.execArgv).toEqual([...AGENT_NODE_ARGS]);
    expect(memoryReexec({}, ['--max-semi-space-size=1', ...AGENT_NODE_ARGS], NODE22)?.execArgv).toEqual([
      '--max-semi-space-size=1',
      ...AGENT_NODE_ARGS,
    ]);
  });

  it('can be turned off', () => {
    expect(memoryReexec({ EDGE_AGENT_NO_REEXEC: '1' }, [], NODE22)).toBeUndefined();
    expect(memoryReexec({ EDGE_AGENT_NO_REEXEC: '1', EDGE_AGENT_LEAN: '1' }, [], NODE22)).toBeUndefined();
  });

  it('EDGE_AGENT_LEAN=1 re-executes under --lite-mode even when the malloc settings are there, once', () => {
    // As the systemd unit or the image sets the environment, plus the request.
    const env = { ...AGENT_MALLOC_ENV, NODE_OPTIONS: '--max-semi-space-size=2', EDGE_AGENT_LEAN: '1' };
    const plan = memoryReexec(env, [...AGENT_NODE_ARGS], NODE22);
    expect(plan).toEqual({ env, execArgv: [...AGENT_LEAN_NODE_ARGS, ...AGENT_NODE_ARGS] });
    // The re-executed process has the flag: no second re-execution.
    expect(memoryReexec(plan!.env, plan!.execArgv, NODE22)).toBeUndefined();
    // Already lean by the command line (--lite-mode or --jitless): nothing to do.
    expect(memoryReexec(env, ['--jitless'], NODE22)).toBeUndefined();
    // Anything else than 1 is not a request.
    expect(memoryReexec({ ...AGENT_MALLOC_ENV, EDGE_AGENT_LEAN: 'yes' }, [], NODE22)).toBeUndefined();
    // With the malloc settings missing too, both come in one re-execution.
    expect(memoryReexec({ EDGE_AGENT_LEAN: '1' }, [], NODE22)?.execArgv).toEqual([
      '--max-semi-space-size=2',
      ...AGENT_NODE_ARGS,
      ...AGENT_LEAN_NODE_ARGS,
    ]);
  });

  it('isLean reads the node arguments', () => {
    expect(isLean(['--lite-mode'])).toBe(true);
    expect(isLean(['--jitless', '--optimize-for-size'])).toBe(true);
    expect(isLean([...AGENT_NODE_ARGS])).toBe(false);
  });

  it('agentRunsLean: lean here, or EDGE_AGENT_LEAN=1 where `run` can re-execute into it (what the tuner measures under)', () => {
    const lean = { EDGE_AGENT_LEAN: '1' };
    expect(agentRunsLean({}, ['--lite-mode'], false)).toBe(true);
    expect(agentRunsLean(lean, [], true)).toBe(true);
    // Node 20: no process.execve, so `run` stays on the JIT unless the flag is on the command line.
    expect(agentRunsLean(lean, [], false)).toBe(false);
    expect(agentRunsLean({}, [], true)).toBe(false);
    expect(agentRunsLean({ ...lean, EDGE_AGENT_NO_REEXEC: '1' }, [], true)).toBe(false);
    expect(agentRunsLean({ EDGE_AGENT_LEAN: '0' }, [], true)).toBe(false);
  });
});

describe('AGENT_NODE_ARGS', () => {
  it('the systemd unit and the arm64 image start node with exactly these arguments', () => {
    const unit = readFileSync(path.join(REPO, 'deploy/edge-agent.service'), 'utf8');
    expect(unit).toMatch(
      `\nExecStart=/usr/bin/node ${AGENT_NODE_ARGS.join(' ')} /opt/edge-agent/dist/cli.js run `,
    );
    const dockerfile = readFileSync(path.join(REPO, 'Dockerfile.arm64'), 'utf8');
    // The image runs Node 24: the JIT's arguments too (what -e EDGE_AGENT_LEAN=0 runs with).
    const entry = ['/usr/bin/tini', '--', 'node', ...ENTRY_ARGS, '/opt/edge-agent/dist/cli.js'];
    expect(dockerfile).toContain(`ENTRYPOINT ${JSON.stringify(entry).replaceAll(',', ', ')}`);
  });

  it('the arm64 image serves on the lean runtime: Node 24 (re-executes in place) and EDGE_AGENT_LEAN=1 in its environment', () => {
    const dockerfile = readFileSync(path.join(REPO, 'Dockerfile.arm64'), 'utf8');
    const runtime = dockerfile.match(/^FROM --platform=linux\/arm64 node:(\d+)-bookworm-slim$/m);
    expect(runtime?.[1]).toBe('24');
    const env = Object.fromEntries(
      [...dockerfile.matchAll(/^\s*(?:ENV )?([A-Z_]+)=(\S+?)(?: \\)?$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    expect(env.EDGE_AGENT_LEAN).toBe('1');
    expect(agentRunsLean(env, [...AGENT_NODE_ARGS], true)).toBe(true);
    expect(memoryReexec(env, [...ENTRY_ARGS], '24.0.0')?.execArgv).toContain('--lite-mode');
  });

  it('the lean runtime: this node accepts its flags and runs a worker thread under them', () => {
    const run = spawnSync(
      process.execPath,
      [
        ...AGENT_NODE_ARGS,
        ...AGENT_LEAN_NODE_ARGS,
        '-e',
        "new (require('node:worker_threads').Worker)('require(\\'node:worker_threads\\').parentPort.postMessage(typeof WebAssembly)', { eval: true }).once('message', (m) => { console.log(m); process.exit(0); })",
      ],
      { encoding: 'utf8' },
    );
    expect(run.status).toBe(0);
    // V8 without a JIT: no WebAssembly (nothing in the agent uses it).
    expect(run.stdout.trim()).toBe('undefined');
  });

  it('with the JIT: --no-turbofan exactly where this node runs Maglev by default, and accepted', () => {
    // The version gate stands for V8's default: on a Node whose V8 has Maglev off (20, 22),
    // --no-turbofan would leave the interpreter alone.
    const options = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    const maglevDefault = options.match(
      /^ {2}--maglev \(.*\n\s+type: bool {2}default: (--(?:no-)?maglev)$/m,
    )?.[1];
    expect(maglevDefault).toBeDefined();
    expect(jitNodeArgs()).toEqual(maglevDefault === '--maglev' ? [...AGENT_JIT_NODE_ARGS] : []);
    expect(topTier(['--no-turbofan'])).toBe(maglevDefault === '--maglev' ? 'maglev' : 'interpreter');
    const run = spawnSync(
      process.execPath,
      [...AGENT_NODE_ARGS, ...AGENT_JIT_NODE_ARGS, '-e', 'process.exit(0)'],
      {
        encoding: 'utf8',
      },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('are V8 flags this node accepts', () => {
    // An unknown flag would stop the agent at start on the device (node: bad option).
    const run = spawnSync(process.execPath, [...AGENT_NODE_ARGS, '-e', 'process.exit(0)'], {
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });
});

describe('the JIT on Node ≥ 24 (Maglev the top tier)', () => {
  const unitEnv = { ...AGENT_MALLOC_ENV, NODE_OPTIONS: '--max-semi-space-size=2' };

  it('jitNodeArgs: --no-turbofan from Node 24 on, nothing before', () => {
    expect(jitNodeArgs('20.20.2')).toEqual([]);
    expect(jitNodeArgs('22.23.5')).toEqual([]);
    expect(jitNodeArgs('24.0.0')).toEqual(['--no-turbofan']);
    expect(jitNodeArgs('26.1.0')).toEqual(['--no-turbofan']);
  });

  it('re-executes once to add it when the command line lacks it (a unit from before, a start by hand)', () => {
    const plan = memoryReexec(unitEnv, [...AGENT_NODE_ARGS], '24.22.3');
    expect(plan).toEqual({ env: unitEnv, execArgv: ['--no-turbofan', ...AGENT_NODE_ARGS] });
    expect(memoryReexec(plan!.env, plan!.execArgv, '24.22.3')).toBeUndefined();
    // On Node 20 and 22 the same command line is complete.
    expect(memoryReexec(unitEnv, [...AGENT_NODE_ARGS], '22.23.5')).toBeUndefined();
  });

  it("keeps the operator's choice of tier, and the lean runtime has none", () => {
    expect(memoryReexec(unitEnv, [...AGENT_NODE_ARGS, '--turbofan'], '24.22.3')).toBeUndefined();
    expect(memoryReexec(unitEnv, ['--lite-mode'], '24.22.3')).toBeUndefined();
    const lean = memoryReexec({ ...unitEnv, EDGE_AGENT_LEAN: '1' }, [...AGENT_NODE_ARGS], '24.22.3');
    expect(lean?.execArgv).toEqual([...AGENT_LEAN_NODE_ARGS, ...AGENT_NODE_ARGS]);
    // The install script's command line on Node 24: complete, nothing to do.
    expect(memoryReexec(unitEnv, [...AGENT_NODE_ARGS, '--no-turbofan'], '24.22.3')).toBeUndefined();
  });

  it('topTier names where hot code goes: the last tier flag wins', () => {
    expect(topTier([], '24.22.3')).toBe('turbofan');
    expect(topTier(['--no-turbofan'], '24.22.3')).toBe('maglev');
    expect(topTier(['--no-turbofan', '--turbofan'], '24.22.3')).toBe('turbofan');
    expect(topTier(['--no-turbofan', '--lite-mode'], '24.22.3')).toBe('interpreter');
    expect(topTier(['--jitless'], '24.22.3')).toBe('interpreter');
    expect(topTier(['--no-turbofan', '--no-maglev'], '24.22.3')).toBe('interpreter');
  });

  it("a measuring child inherits this process's tier flags, else the version's defaults", () => {
    expect(inheritedJitNodeArgs(['--optimize-for-size'], '24.22.3')).toEqual(['--no-turbofan']);
    expect(inheritedJitNodeArgs(['--optimize-for-size'], NODE22)).toEqual([]);
    expect(inheritedJitNodeArgs(['--turbofan'], '24.22.3')).toEqual(['--turbofan']);
    expect(inheritedJitNodeArgs(['--maglev', '--no-turbofan', '--no-sparkplug'], NODE22)).toEqual([
      '--maglev',
      '--no-turbofan',
    ]);
  });

  it('topTier knows Maglev is off before Node 24 unless --maglev turns it on', () => {
    expect(topTier([], NODE22)).toBe('turbofan');
    expect(topTier(['--no-turbofan'], NODE22)).toBe('interpreter');
    expect(topTier(['--no-turbofan'], '20.20.2')).toBe('interpreter');
    expect(topTier(['--maglev', '--no-turbofan'], NODE22)).toBe('maglev');
    expect(topTier(['--maglev', '--no-turbofan', '--no-maglev'], NODE22)).toBe('interpreter');
  });
});
