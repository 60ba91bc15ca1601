import { describe, expect, it } from 'vitest';
import {
  cpuLoadPercent,
  parseCgroupLimit,
  parseMeminfo,
  parsePressureSomeAvg10,
  parseProcCgroup,
  parseProcStat,
} from '../../../src/hardware/parse/memory.js';
import { effectiveMemory } from '../../../src/hardware/readers/memory.js';
import { fixtureText } from '../../helpers/hardware.js';

describe('parseMeminfo', () => {
  it('converts kB to bytes', () => {
    const m = parseMeminfo(fixtureText('raspberry-pi-zero-2', '/proc/meminfo'));
    expect(m.totalBytes).toBe(439592 * 1024);
    expect(m.availableBytes).toBe(318420 * 1024);
    expect(m.swapTotalBytes).toBe(524284 * 1024);
    expect(m.swapFreeBytes).toBe(498112 * 1024);
  });
  it('estimates available memory on kernels without MemAvailable', () => {
    const m = parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 10 kB\nCached: 200 kB\n');
    expect(m.availableBytes).toBe(310 * 1024);
  });
  it('leaves fields absent for empty or garbled text', () => {
    expect(parseMeminfo('')).toEqual({
      totalBytes: undefined,
      availableBytes: undefined,
      freeBytes: undefined,
      swapTotalBytes: undefined,
      swapFreeBytes: undefined,
    });
    expect(parseMeminfo('MemTotal: lots\n').totalBytes).toBeUndefined();
  });
});

describe('cgroups', () => {
  it('reads v2 and v1 limits, "unlimited" as null and garbage as undefined', () => {
    expect(parseCgroupLimit(fixtureText('x86-container', '/sys/fs/cgroup/memory.max'))).toBe(1073741824);
    expect(parseCgroupLimit('max\n')).toBeNull();
    expect(
      parseCgroupLimit(fixtureText('jetson-nano', '/sys/fs/cgroup/memory/memory.limit_in_bytes')),
    ).toBeNull();
    expect(parseCgroupLimit('')).toBeUndefined();
    expect(parseCgroupLimit('-1')).toBeUndefined();
  });
  it('parses /proc/self/cgroup for v1 and v2', () => {
    expect(parseProcCgroup(fixtureText('jetson-nano', '/proc/self/cgroup'))).toEqual({
      v1: {
        memory: '/system.slice/edge-agent.service',
        cpu: '/system.slice/edge-agent.service',
        cpuacct: '/system.slice/edge-agent.service',
        'name=systemd': '/system.slice/edge-agent.service',
      },
    });
    expect(parseProcCgroup('0::/\n')).toEqual({ unified: '/', v1: {} });
    expect(parseProcCgroup('')).toEqual({ v1: {} });
  });
  it('takes the smaller of physical memory and the cgroup limit, minus reclaimable cache', () => {
    const GiB = 1024 ** 3;
    expect(
      effectiveMemory(32 * GiB, 29 * GiB, {
        version: 2,
        limitBytes: GiB,
        usageBytes: 300 * 2 ** 20,
        inactiveFileBytes: 100 * 2 ** 20,
      }),
    ).toEqual({
      effectiveBudgetBytes: GiB,
      effectiveAvailableBytes: GiB - 200 * 2 ** 20,
    });
    expect(effectiveMemory(4 * GiB, 3 * GiB, { version: 1 })).toEqual({
      effectiveBudgetBytes: 4 * GiB,
      effectiveAvailableBytes: 3 * GiB,
    });
    // A limit above physical memory changes nothing; MemAvailable still caps the headroom.
    expect(effectiveMemory(4 * GiB, GiB, { version: 2, limitBytes: 8 * GiB, usageBytes: GiB })).toEqual({
      effectiveBudgetBytes: 4 * GiB,
      effectiveAvailableBytes: GiB,
    });
  });
});

describe('load and pressure', () => {
  it('computes CPU load between two /proc/stat readings', () => {
    const a = parseProcStat('cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 1 2 3 4\n');
    const b = parseProcStat('cpu  250 0 150 900 0 0 0 0 0 0\n');
    expect(a).toEqual({ idle: 800, total: 1000 });
    expect(cpuLoadPercent(a!, b!)).toBeCloseTo(66.67, 1);
    expect(cpuLoadPercent(a!, a!)).toBeUndefined();
    expect(parseProcStat('')).toBeUndefined();
    expect(parseProcStat('cpu  1 2\n')).toBeUndefined();
  });
  it('reads PSI some avg10', () => {
    expect(parsePressureSomeAvg10(fixtureText('raspberry-pi-zero-2', '/proc/pressure/memory'))).toBe(0.12);
    expect(parsePressureSomeAvg10('')).toBeUndefined();
  });
});
