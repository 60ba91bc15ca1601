import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_MALLOC_ENV, AGENT_NODE_ARGS, memoryReexec } from '../../../src/service/memory-env.js';
import { REPO } from '../../helpers/paths.js';

describe('memoryReexec', () => {
  it('adds the missing malloc settings and the V8 flag, keeping the rest of the environment', () => {
    const plan = memoryReexec({ PATH: '/usr/bin', EMPTY: undefined }, ['--import', 'tsx']);
    expect(plan).toEqual({
      env: { PATH: '/usr/bin', ...AGENT_MALLOC_ENV },
      execArgv: ['--max-semi-space-size=2', ...AGENT_NODE_ARGS, '--import', 'tsx'],
    });
  });

  it('does nothing when every malloc setting is there (no loop after re-executing)', () => {
    expect(memoryReexec({ ...AGENT_MALLOC_ENV }, [])).toBeUndefined();
  });

  it("keeps the operator's values and semi-space size; fills only what is missing", () => {
    const plan = memoryReexec(
      { MALLOC_ARENA_MAX: '4', NODE_OPTIONS: '--max-semi-space-size=8 --enable-source-maps' },
      [],
    );
    expect(plan?.env).toMatchObject({
      MALLOC_ARENA_MAX: '4',
      MALLOC_MMAP_THRESHOLD_: AGENT_MALLOC_ENV.MALLOC_MMAP_THRESHOLD_,
      MALLOC_TRIM_THRESHOLD_: AGENT_MALLOC_ENV.MALLOC_TRIM_THRESHOLD_,
    });
    expect(plan?.execArgv).toEqual([...AGENT_NODE_ARGS]);
    expect(memoryReexec({}, ['--max-semi-space-size=1', ...AGENT_NODE_ARGS])?.execArgv).toEqual([
      '--max-semi-space-size=1',
      ...AGENT_NODE_ARGS,
    ]);
  });

  it('can be turned off', () => {
    expect(memoryReexec({ EDGE_AGENT_NO_REEXEC: '1' }, [])).toBeUndefined();
  });
});

describe('AGENT_NODE_ARGS', () => {
  it('the systemd unit and the arm64 image start node with exactly these arguments', () => {
    const unit = readFileSync(path.join(REPO, 'deploy/edge-agent.service'), 'utf8');
    expect(unit).toMatch(
      `\nExecStart=/usr/bin/node ${AGENT_NODE_ARGS.join(' ')} /opt/edge-agent/dist/cli.js run `,
    );
    const dockerfile = readFileSync(path.join(REPO, 'Dockerfile.arm64'), 'utf8');
    const entry = ['/usr/bin/tini', '--', 'node', ...AGENT_NODE_ARGS, '/opt/edge-agent/dist/cli.js'];
    expect(dockerfile).toContain(`ENTRYPOINT ${JSON.stringify(entry).replaceAll(',', ', ')}`);
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
