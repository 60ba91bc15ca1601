import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { servingState, watchdogIntervalMs } from '../../../src/service/systemd.js';
import { TSX_LOADER } from '../../helpers/cli.js';
import { NotifySocket } from '../../helpers/notify-socket.js';
import { FIXTURES } from '../../helpers/paths.js';
import { requireTool } from '../../helpers/system-tools.js';
import { waitUntil } from '../../helpers/wait.js';

describe('watchdog and readiness decisions', () => {
  it.each([
    [{}, undefined],
    [{ WATCHDOG_USEC: '30000000' }, 10_000],
    [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42' }, 10_000],
    [{ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '43' }, undefined],
    [{ WATCHDOG_USEC: 'soon' }, undefined],
  ])('env %j -> ping every %s ms', (env, expected) => {
    expect(watchdogIntervalMs(env, 42)).toBe(expected);
  });

  it.each([
    [undefined, false, 'starting'],
    [{ counters: { processed: 0 }, camera: { state: 'starting' } }, false, 'starting: camera starting'],
    [{ counters: { processed: 1 }, camera: { state: 'online' } }, true, 'serving: inferring'],
    [{ counters: { processed: 0 }, camera: { state: 'offline' } }, true, 'serving: camera offline, retrying'],
    [
      { counters: { processed: 0 }, camera: { state: 'stopped' }, model: { name: '(none)' } },
      true,
      'serving: no loadable model, retrying',
    ],
  ])('pipeline %j -> ready %s (%s)', (stats, ready, status) => {
    expect(servingState(stats)).toEqual({ ready, status });
  });
});

const hasTools = requireTool('socat', 'socat') && requireTool('systemd-notify', 'systemd');

describe.skipIf(!hasTools)('systemd notify protocol through systemd-notify', () => {
  let socket: NotifySocket | undefined;
  afterEach(() => socket?.close());

  it('says READY and pings the watchdog; a blocked event loop stops the pings and is seen as hung', async () => {
    socket = await NotifySocket.open(path.join(mkdtempSync(path.join(tmpdir(), 'ea-notify-')), 'notify'));
    // WatchdogSec=6: pings every 2 s (margin for a loaded machine); the child blocks for 60 s.
    const watchdogUsec = 6_000_000;
    const child = spawn(
      process.execPath,
      ['--import', TSX_LOADER, path.join(FIXTURES, 'service/watchdog-child.ts')],
      {
        env: {
          ...process.env,
          NOTIFY_SOCKET: socket.path,
          WATCHDOG_USEC: String(watchdogUsec),
          BLOCK_MS: '60000',
        },
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
    try {
      // What systemd does with WatchdogSec: no ping within the period -> SIGABRT.
      let hungAt: number | undefined;
      const supervisor = setInterval(() => {
        const pings = socket!.times('WATCHDOG=1');
        const last = pings.at(-1);
        if (last !== undefined && Date.now() - last > watchdogUsec / 1000 && hungAt === undefined) {
          hungAt = Date.now();
          child.kill('SIGABRT');
        }
      }, 100);
      const s = socket;
      await waitUntil(
        () => s.times('READY=1').length > 0,
        90_000,
        () => `READY=1 (got ${JSON.stringify(s.messages)})`,
      );
      expect(s.messages.some((m) => m.text.includes(`MAINPID=${child.pid}`))).toBe(true);
      expect(s.messages.some((m) => m.text.includes('STATUS=serving: test child'))).toBe(true);
      await waitUntil(
        () => s.times('WATCHDOG=1').length >= 3,
        60_000,
        () => 'three watchdog pings',
      );
      expect(hungAt, 'a healthy loop was taken for hung').toBeUndefined();

      const pingsBefore = s.times('WATCHDOG=1').length;
      child.stdin.write('block\n');
      await waitUntil(
        () => stdout.includes('blocking'),
        10_000,
        () => 'the child to block',
      );
      const signal = await exited;
      clearInterval(supervisor);
      expect(hungAt, 'the blocked loop was never seen as hung').toBeDefined();
      expect(signal).toBe('SIGABRT');
      expect(stdout).not.toContain('unblocked'); // killed while blocked (it blocks for 60 s)
      // At most the ping already on its way when the loop blocked arrives after it.
      expect(s.times('WATCHDOG=1').length - pingsBefore).toBeLessThanOrEqual(1);
    } finally {
      child.kill('SIGKILL');
    }
  }, 240_000);
});
