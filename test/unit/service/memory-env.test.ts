import { describe, expect, it } from 'vitest';
import { AGENT_MALLOC_ENV, memoryReexec } from '../../../src/service/memory-env.js';

describe('memoryReexec', () => {
  it('adds the missing malloc settings and the V8 flag, keeping the rest of the environment', () => {
    const plan = memoryReexec({ PATH: '/usr/bin', EMPTY: undefined }, ['--import', 'tsx']);
    expect(plan).toEqual({
      env: { PATH: '/usr/bin', ...AGENT_MALLOC_ENV },
      execArgv: ['--max-semi-space-size=2', '--optimize-for-size', '--import', 'tsx'],
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
    expect(plan?.execArgv).toEqual(['--optimize-for-size']);
    expect(memoryReexec({}, ['--max-semi-space-size=1', '--optimize-for-size'])?.execArgv).toEqual([
      '--max-semi-space-size=1',
      '--optimize-for-size',
    ]);
  });

  it('can be turned off', () => {
    expect(memoryReexec({ EDGE_AGENT_NO_REEXEC: '1' }, [])).toBeUndefined();
  });
});
