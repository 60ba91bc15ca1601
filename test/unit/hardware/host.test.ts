import { describe, expect, it } from 'vitest';
import { COMMANDS, createHost, runCommand } from '../../../src/hardware/host.js';
import { fixtureRoot } from '../../helpers/hardware.js';

describe('host', () => {
  it('reads files under the root and explains absent ones', async () => {
    const host = createHost({ root: fixtureRoot('raspberry-pi-4') });
    expect(host.live).toBe(false);
    const model = await host.readText('/proc/device-tree/model');
    expect(model).toEqual({ ok: true, text: 'Raspberry Pi 4 Model B Rev 1.4\0' });
    expect(await host.readText('/etc/nv_tegra_release')).toEqual({
      ok: false,
      reason: '/etc/nv_tegra_release: absent',
    });
    expect(await host.list('/sys/class/nothing')).toEqual([]);
  });

  it('answers commands from captured outputs; no file means not installed', async () => {
    const host = createHost({ root: fixtureRoot('raspberry-pi-5') });
    expect(await host.exec(COMMANDS.vcgencmdThrottled)).toEqual({ ok: true, stdout: 'throttled=0x60006\n' });
    expect(await host.exec(COMMANDS.nvpmodel)).toEqual({
      ok: false,
      missing: true,
      reason: 'nvpmodel: not installed',
    });
  });

  it('runs real commands with a timeout; a missing command is normal', async () => {
    expect(await runCommand({ key: 'x', file: 'edge-agent-no-such-command', args: [] }, 1000)).toEqual({
      ok: false,
      missing: true,
      reason: 'edge-agent-no-such-command: not installed',
    });
    const slow = await runCommand({ key: 'sleep', file: 'sleep', args: ['5'] }, 200);
    expect(slow).toEqual({ ok: false, missing: false, reason: 'sleep: timed out after 200 ms' });
    const failing = await runCommand(
      { key: 'false', file: 'sh', args: ['-c', 'echo broken >&2; exit 3'] },
      1000,
    );
    expect(failing).toMatchObject({
      ok: false,
      missing: false,
      reason: 'sh -c echo broken >&2; exit 3: broken',
    });
    expect(await runCommand({ key: 'echo', file: 'echo', args: ['throttled=0x0'] }, 1000)).toEqual({
      ok: true,
      stdout: 'throttled=0x0\n',
    });
  });
});
