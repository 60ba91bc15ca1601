import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { DiskGuard, isDiskFullError } from '../../../src/store/disk-guard.js';

const sqliteFull = Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });

describe('isDiskFullError', () => {
  it.each([
    [sqliteFull, true],
    [Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), true],
    [Object.assign(new Error('quota'), { code: 'EDQUOT' }), true],
    [Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }), false],
    [Object.assign(new Error('constraint failed'), { code: 'SQLITE_CONSTRAINT' }), false],
    ['a string', false],
  ])('%s → %s', (err, expected) => {
    expect(isDiskFullError(err)).toBe(expected);
  });
});

describe('DiskGuard', () => {
  function setup(online: boolean) {
    const changes: boolean[] = [];
    const live: string[] = [];
    const guard = new DiskGuard({
      log: silentLogger(),
      publishLive: (m) => {
        if (online) live.push(m.topic);
        return online;
      },
      onChange: (full) => changes.push(full),
    });
    return { guard, changes, live };
  }
  const failing = {
    enqueue: () => {
      throw sqliteFull;
    },
  };

  it('publishes live what the outbox cannot store, and reports the disk full once', () => {
    const { guard, changes, live } = setup(true);
    expect(guard.enqueue(failing, { kind: 'telemetry', topic: 't', payload: '{}' })).toBe(-1);
    expect(guard.enqueue(failing, { kind: 'telemetry', topic: 't', payload: '{}' })).toBe(-1);
    expect(live).toEqual(['t', 't']);
    expect(changes).toEqual([true]);
    expect(guard.stats()).toEqual({
      full: true,
      failedWritesTotal: 2,
      publishedLiveTotal: 2,
      droppedTotal: 0,
    });
  });

  it('counts messages as dropped when the broker is not reachable either', () => {
    const { guard } = setup(false);
    guard.enqueue(failing, { kind: 'telemetry', topic: 't', payload: '{}' });
    expect(guard.stats()).toMatchObject({ full: true, publishedLiveTotal: 0, droppedTotal: 1 });
  });

  it('the next successful write marks the disk writable again', () => {
    const { guard, changes } = setup(true);
    expect(
      guard.write('metrics', () => {
        throw sqliteFull;
      }),
    ).toBeUndefined();
    expect(guard.write('metrics', () => 7)).toBe(7);
    expect(changes).toEqual([true, false]);
    expect(guard.stats().full).toBe(false);
  });

  it('rethrows anything that is not a full disk', () => {
    const { guard, changes } = setup(true);
    expect(() =>
      guard.write('metrics', () => {
        throw new Error('bug');
      }),
    ).toThrow('bug');
    expect(changes).toEqual([]);
  });
});
