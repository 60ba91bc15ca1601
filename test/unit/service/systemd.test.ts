import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import { ServiceNotifier } from '../../../src/service/systemd.js';
import { waitUntil } from '../../helpers/wait.js';

function notifier(env: Record<string, string>, state: () => { ready: boolean; status: string }) {
  const sent: string[][] = [];
  const n = new ServiceNotifier({
    env,
    pid: 4242,
    log: silentLogger(),
    state,
    readyPollMs: 10,
    exec: async (args) => {
      sent.push([...args]);
    },
  });
  return { n, sent };
}

describe('ServiceNotifier', () => {
  it('does nothing without NOTIFY_SOCKET (not started by systemd)', async () => {
    const { n, sent } = notifier({}, () => ({ ready: true, status: 'x' }));
    n.start();
    await n.stop();
    expect(n.enabled).toBe(false);
    expect(sent).toEqual([]);
  });

  it('sends READY once, when the state says so, then STOPPING on stop', async () => {
    let ready = false;
    const { n, sent } = notifier({ NOTIFY_SOCKET: '/run/x' }, () => ({
      ready,
      status: ready ? 'serving: inferring' : 'starting',
    }));
    n.start();
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toEqual([]);
    ready = true;
    await waitUntil(() => sent.length === 1, 5000);
    await new Promise((r) => setTimeout(r, 50));
    expect(sent).toEqual([['--pid=4242', '--ready', '--status=serving: inferring']]);
    await Promise.all([n.stop(), n.stop()]); // the abort signal and the finally block both stop it
    expect(sent.at(-1)).toEqual(['--pid=4242', 'STOPPING=1']);
    expect(sent.filter((a) => a.includes('STOPPING=1'))).toHaveLength(1);
  });

  it('pings the watchdog every WATCHDOG_USEC/3 when asked for this PID', async () => {
    const { n, sent } = notifier(
      { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '300000', WATCHDOG_PID: '4242' },
      () => ({
        ready: false,
        status: 'starting',
      }),
    );
    expect(n.watchdogMs).toBe(100);
    n.start();
    await waitUntil(() => sent.filter((a) => a.includes('WATCHDOG=1')).length >= 3, 5000);
    await n.stop();
    const count = sent.length;
    await new Promise((r) => setTimeout(r, 250));
    expect(sent.length).toBe(count); // stopped: no more pings
  });
});
