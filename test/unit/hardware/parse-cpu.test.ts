import { describe, expect, it } from 'vitest';
import {
  armCoreType,
  cfsQuotaCores,
  commonFeatures,
  cpuArch,
  groupClusters,
  normalizeFeatures,
  parseCpuinfo,
  parseCpuMax,
} from '../../../src/hardware/parse/cpu.js';
import { fixtureText } from '../../helpers/hardware.js';

describe('parseCpuinfo', () => {
  it('reads a Raspberry Pi 4 (no per-core model name, machine block at the end)', () => {
    const info = parseCpuinfo(fixtureText('raspberry-pi-4', '/proc/cpuinfo'));
    expect(info.processors).toHaveLength(4);
    expect(info.processors[0]).toMatchObject({
      index: 0,
      implementer: '0x41',
      part: '0xd08',
      architecture: '8',
    });
    expect(info.processors[0]?.modelName).toBeUndefined();
    expect(info.processors[3]?.features).toEqual(['fp', 'asimd', 'evtstrm', 'crc32', 'cpuid']);
    expect(info).toMatchObject({
      hardware: 'BCM2835',
      revision: 'c03114',
      model: 'Raspberry Pi 4 Model B Rev 1.4',
    });
    expect(cpuArch(info)).toBe('aarch64');
  });

  it('reads x86 flags and keeps the numeric per-processor "model" out of the board model', () => {
    const info = parseCpuinfo(fixtureText('x86-laptop', '/proc/cpuinfo'));
    expect(info.processors).toHaveLength(16);
    expect(info.processors[0]?.modelName).toBe('12th Gen Intel(R) Core(TM) i7-1260P');
    expect(info.processors[0]?.vendorId).toBe('GenuineIntel');
    expect(info.model).toBeUndefined();
    expect(cpuArch(info)).toBe('x86_64');
  });

  it('recognises a 32-bit arm kernel', () => {
    const text = [
      'processor\t: 0',
      'model name\t: ARMv7 Processor rev 4 (v7l)',
      'BogoMIPS\t: 38.40',
      'Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32',
      'CPU implementer\t: 0x41',
      'CPU architecture: 7',
      'CPU part\t: 0xd03',
      '',
      'Hardware\t: BCM2835',
      'Revision\t: 902120',
    ].join('\n');
    const info = parseCpuinfo(text);
    expect(cpuArch(info)).toBe('armv7l');
    expect(normalizeFeatures('armv7l', commonFeatures(info))).toEqual(['neon']);
  });

  it('does not throw on empty, truncated or garbled text', () => {
    expect(parseCpuinfo('').processors).toEqual([]);
    expect(cpuArch(parseCpuinfo(''))).toBe('unknown');
    expect(parseCpuinfo('\0\0garbage\nprocessor : x\n: : :\n').processors).toEqual([]);
    const truncated = parseCpuinfo('processor\t: 0\nFeatures\t: fp asi');
    expect(truncated.processors).toHaveLength(1);
    expect(truncated.processors[0]?.features).toEqual(['fp', 'asi']);
  });
});

describe('normalizeFeatures', () => {
  it.each([
    ['raspberry-pi-4', ['neon']],
    ['raspberry-pi-5', ['dotprod', 'fp16', 'neon']],
    ['jetson-nano', ['neon']],
    ['jetson-orin-nano', ['dotprod', 'fp16', 'neon']],
    ['x86-laptop', ['avx2', 'avxvnni', 'fma']],
    ['x86-desktop-nvidia', ['avx2', 'avx512bf16', 'avx512f', 'avx512vnni', 'fma']],
    ['x86-container', ['amx', 'avx2', 'avx512bf16', 'avx512f', 'avx512vnni', 'avxvnni', 'fma', 'fp16']],
  ] as const)('%s → %j', (tree, expected) => {
    const info = parseCpuinfo(fixtureText(tree, '/proc/cpuinfo'));
    expect(normalizeFeatures(cpuArch(info), commonFeatures(info))).toEqual(expected);
  });

  it('maps arm v8.6 words and ignores x86 words on arm', () => {
    expect(normalizeFeatures('aarch64', ['asimd', 'i8mm', 'bf16', 'sve', 'sve2', 'avx2'])).toEqual([
      'bf16',
      'i8mm',
      'neon',
      'sve',
    ]);
    expect(normalizeFeatures('x86_64', ['asimd', 'f16c'])).toEqual([]);
  });

  it('keeps only the features every core has (big.LITTLE with different feature sets)', () => {
    const info = parseCpuinfo(
      'processor : 0\nFeatures : fp asimd asimddp\n\nprocessor : 1\nFeatures : fp asimd\n',
    );
    expect(commonFeatures(info)).toEqual(['fp', 'asimd']);
  });
});

describe('groupClusters', () => {
  it('splits a hybrid x86 CPU into P and E clusters by max frequency', () => {
    const info = parseCpuinfo(fixtureText('x86-laptop', '/proc/cpuinfo'));
    const freqs = info.processors.map((p) => ({
      cpu: p.index,
      maxKhz: p.index < 8 ? 4_700_000 : 3_400_000,
      minKhz: 400_000,
    }));
    const clusters = groupClusters(info, freqs);
    expect(clusters.map((c) => [c.cpus.length, c.maxMhz])).toEqual([
      [8, 4700],
      [8, 3400],
    ]);
  });

  it('splits an arm big.LITTLE SoC by core type, biggest first', () => {
    const block = (i: number, part: string) =>
      `processor : ${i}\nCPU implementer : 0x41\nCPU architecture: 8\nCPU part : ${part}\nFeatures : fp asimd\n`;
    const info = parseCpuinfo(
      [0, 1, 2, 3].map((i) => block(i, '0xd05')).join('\n') + [4, 5].map((i) => block(i, '0xd0b')).join('\n'),
    );
    const freqs = [0, 1, 2, 3, 4, 5].map((cpu) => ({ cpu, maxKhz: cpu < 4 ? 1_800_000 : 2_400_000 }));
    expect(groupClusters(info, freqs)).toEqual([
      { cpus: [4, 5], coreType: 'cortex-a76', maxMhz: 2400 },
      { cpus: [0, 1, 2, 3], coreType: 'cortex-a55', maxMhz: 1800 },
    ]);
  });

  it('makes one cluster without cpufreq', () => {
    const info = parseCpuinfo(fixtureText('x86-container', '/proc/cpuinfo'));
    expect(groupClusters(info, [])).toEqual([
      { cpus: [0, 1, 2, 3, 4, 5, 6, 7], coreType: 'Intel(R) Xeon(R) Platinum 8488C' },
    ]);
  });

  it('names arm cores by part number', () => {
    expect(armCoreType('0x41', '0xd42')).toBe('cortex-a78ae');
    expect(armCoreType('0x4e', '0x004')).toBe('nvidia-carmel');
    expect(armCoreType('0x41', '0xfff')).toBeUndefined();
  });
});

describe('cgroup CPU quota', () => {
  it('reads cgroup v2 cpu.max', () => {
    expect(parseCpuMax('200000 100000\n')).toBe(2);
    expect(parseCpuMax('50000 100000')).toBe(0.5);
    expect(parseCpuMax('max 100000')).toBeUndefined();
    expect(parseCpuMax('')).toBeUndefined();
    expect(parseCpuMax('garbage')).toBeUndefined();
  });
  it('reads cgroup v1 cfs quota', () => {
    expect(cfsQuotaCores(150000, 100000)).toBe(1.5);
    expect(cfsQuotaCores(-1, 100000)).toBeUndefined();
    expect(cfsQuotaCores(undefined, 100000)).toBeUndefined();
  });
});
