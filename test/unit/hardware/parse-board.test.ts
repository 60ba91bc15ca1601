import { describe, expect, it } from 'vitest';
import { classifyBoard } from '../../../src/hardware/boards.js';
import {
  detectContainer,
  detectVirtualization,
  jetpackForL4t,
  parseCompatible,
  parseDeviceTreeString,
  parseOsRelease,
  parseTegraRelease,
  socFromCompatible,
} from '../../../src/hardware/parse/board.js';
import { fixtureText } from '../../helpers/hardware.js';

describe('device tree', () => {
  it('strips the trailing NUL of /proc/device-tree/model', () => {
    const raw = fixtureText('raspberry-pi-5', '/proc/device-tree/model');
    expect(raw.endsWith('\0')).toBe(true);
    expect(parseDeviceTreeString(raw)).toBe('Raspberry Pi 5 Model B Rev 1.0');
  });
  it('splits the NUL-separated compatible list and finds the SoC', () => {
    const list = parseCompatible(fixtureText('jetson-orin-nano', '/proc/device-tree/compatible'));
    expect(list).toEqual(['nvidia,p3768-0000+p3767-0005-super', 'nvidia,p3767-0005', 'nvidia,tegra234']);
    expect(socFromCompatible(list)).toBe('tegra234');
    expect(
      socFromCompatible(parseCompatible(fixtureText('raspberry-pi-zero-2', '/proc/device-tree/compatible'))),
    ).toBe('bcm2837');
  });
  it('answers nothing for empty or NUL-only files', () => {
    expect(parseDeviceTreeString('')).toBeUndefined();
    expect(parseDeviceTreeString('\0')).toBeUndefined();
    expect(parseCompatible('')).toEqual([]);
    expect(socFromCompatible([])).toBeUndefined();
  });
});

describe('classifyBoard', () => {
  it.each([
    ['Raspberry Pi 4 Model B Rev 1.4', [], 'raspberry-pi-4'],
    ['Raspberry Pi 400 Rev 1.0', [], 'raspberry-pi-4'],
    ['Raspberry Pi Compute Module 4 Rev 1.1', [], 'raspberry-pi-4'],
    ['Raspberry Pi 5 Model B Rev 1.0', [], 'raspberry-pi-5'],
    ['Raspberry Pi Compute Module 5 Rev 1.0', [], 'raspberry-pi-5'],
    ['Raspberry Pi Zero 2 W Rev 1.0', [], 'raspberry-pi-zero-2'],
    ['Raspberry Pi 3 Model B Plus Rev 1.3', [], 'raspberry-pi-3'],
    [undefined, ['raspberrypi,4-model-b', 'brcm,bcm2711'], 'raspberry-pi-4'],
    ['NVIDIA Jetson Nano Developer Kit', [], 'jetson-nano'],
    [
      undefined,
      ['nvidia,p3449-0000-b00+p3448-0000-b00', 'nvidia,jetson-nano', 'nvidia,tegra210'],
      'jetson-nano',
    ],
    ['NVIDIA Jetson Xavier NX Developer Kit', [], 'jetson-xavier-nx'],
    [
      'some text',
      ['nvidia,p3768-0000+p3767-0005', 'nvidia,p3767-0005', 'nvidia,tegra234'],
      'jetson-orin-nano',
    ],
    ['some text', ['nvidia,p3768-0000+p3767-0000', 'nvidia,p3767-0000', 'nvidia,tegra234'], 'jetson-orin-nx'],
    [
      'NVIDIA Jetson AGX Orin Developer Kit',
      ['nvidia,p3737-0000+p3701-0005', 'nvidia,tegra234'],
      'jetson-agx-orin',
    ],
    ['Radxa ROCK 5B', ['radxa,rock-5b', 'rockchip,rk3588'], 'arm'],
  ] as const)('%s %j → %s', (model, compatible, family) => {
    expect(classifyBoard(model, compatible, 'aarch64')).toBe(family);
  });
  it('falls back on the ISA', () => {
    expect(classifyBoard('LENOVO 21BR001DUS', [], 'x86_64')).toBe('x86');
    expect(classifyBoard(undefined, [], 'unknown')).toBe('unknown');
  });
});

describe('Jetson release', () => {
  it('parses nv_tegra_release of L4T 32 and 36', () => {
    expect(parseTegraRelease(fixtureText('jetson-nano', '/etc/nv_tegra_release'))).toBe('32.7.1');
    expect(parseTegraRelease(fixtureText('jetson-orin-nano', '/etc/nv_tegra_release'))).toBe('36.4.3');
    expect(jetpackForL4t('32.7.1')).toBe('4.6.1');
    expect(jetpackForL4t('36.4.3')).toBe('6.2');
    expect(jetpackForL4t('99.0.0')).toBeUndefined();
  });
  it('answers nothing for malformed text', () => {
    expect(parseTegraRelease('')).toBeUndefined();
    expect(parseTegraRelease('# R36 (release)')).toBeUndefined();
    expect(parseTegraRelease('R36 4.3')).toBeUndefined();
  });
});

describe('os-release', () => {
  it('reads quoted and unquoted values', () => {
    const r = parseOsRelease(fixtureText('jetson-orin-nano', '/etc/os-release'));
    expect(r.PRETTY_NAME).toBe('Ubuntu 22.04.5 LTS');
    expect(r.VERSION_CODENAME).toBe('jammy');
    expect(parseOsRelease('garbage\n=\n')).toEqual({});
  });
});

describe('virtualisation and containers', () => {
  it('names the hypervisor from DMI, else trusts the CPUID hypervisor bit', () => {
    expect(
      detectVirtualization({
        cpuFlags: ['hypervisor'],
        dmiVendor: 'Amazon EC2',
        dmiProduct: 'm7i.2xlarge',
        compatible: [],
      }),
    ).toEqual({
      virtualized: true,
      hypervisor: 'aws-nitro',
    });
    expect(
      detectVirtualization({
        cpuFlags: [],
        dmiVendor: 'QEMU',
        dmiProduct: 'Standard PC (Q35 + ICH9, 2009)',
        compatible: [],
      }),
    ).toEqual({
      virtualized: true,
      hypervisor: 'qemu',
    });
    expect(detectVirtualization({ cpuFlags: ['fpu', 'hypervisor'], compatible: [] })).toEqual({
      virtualized: true,
    });
    expect(detectVirtualization({ cpuFlags: [], compatible: ['linux,dummy-virt'] })).toEqual({
      virtualized: true,
      hypervisor: 'qemu',
    });
    expect(
      detectVirtualization({
        cpuFlags: ['fpu'],
        dmiVendor: 'LENOVO',
        dmiProduct: '21BR001DUS',
        compatible: [],
      }),
    ).toEqual({
      virtualized: false,
    });
  });
  it('recognises docker, podman, kubernetes and plain hosts', () => {
    const none = { dockerenv: false, containerenv: false, cgroupPaths: [] };
    expect(detectContainer({ ...none, dockerenv: true })).toEqual({
      container: true,
      containerRuntime: 'docker',
    });
    expect(detectContainer({ ...none, containerenv: true })).toEqual({
      container: true,
      containerRuntime: 'podman',
    });
    expect(detectContainer({ ...none, cgroupPaths: ['/kubepods/besteffort/pod12/abc'] })).toMatchObject({
      containerRuntime: 'kubernetes',
    });
    expect(detectContainer({ ...none, cgroupPaths: ['/system.slice/docker-0123.scope'] })).toMatchObject({
      containerRuntime: 'docker',
    });
    expect(detectContainer({ ...none, systemdContainer: 'systemd-nspawn' })).toMatchObject({
      containerRuntime: 'systemd-nspawn',
    });
    expect(
      detectContainer({
        ...none,
        cgroupPaths: ['/user.slice/user-1000.slice/session-2.scope', '/init.scope'],
      }),
    ).toEqual({
      container: false,
    });
  });
});
