import { describe, expect, it } from 'vitest';
import {
  parseCudaVersion,
  parseMilliCelsius,
  parseNvidiaSmi,
  parseNvpmodel,
  parseThrottled,
  throttleReasons,
} from '../../../src/hardware/parse/thermal.js';
import { fixtureText } from '../../helpers/hardware.js';

describe('parseThrottled', () => {
  it('decodes a hot Raspberry Pi 5 (0x60006)', () => {
    const t = parseThrottled(fixtureText('raspberry-pi-5', '/.commands/vcgencmd_get_throttled.txt'));
    expect(t).toEqual({
      raw: '0x60006',
      underVoltageNow: false,
      frequencyCappedNow: true,
      throttledNow: true,
      softTempLimitNow: false,
      underVoltageSinceBoot: false,
      frequencyCappedSinceBoot: true,
      throttledSinceBoot: true,
      softTempLimitSinceBoot: false,
    });
    expect(throttleReasons(t!)).toEqual(['ARM frequency capped', 'throttled by the firmware']);
  });
  it('decodes past under-voltage with nothing active now (0x50000)', () => {
    const t = parseThrottled(fixtureText('raspberry-pi-4', '/.commands/vcgencmd_get_throttled.txt'))!;
    expect([t.underVoltageSinceBoot, t.throttledSinceBoot, t.underVoltageNow, t.throttledNow]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(throttleReasons(t)).toEqual([]);
    expect(throttleReasons(parseThrottled('throttled=0xf')!)).toHaveLength(4);
  });
  it('answers nothing for malformed output', () => {
    expect(parseThrottled('')).toBeUndefined();
    expect(parseThrottled('VCHI initialization failed')).toBeUndefined();
    expect(parseThrottled('throttled=')).toBeUndefined();
  });
});

describe('parseNvpmodel', () => {
  it('reads the mode after a fan line (L4T 32) and alone (L4T 36)', () => {
    expect(parseNvpmodel(fixtureText('jetson-nano', '/.commands/nvpmodel_q.txt'))).toEqual({
      name: 'MAXN',
      id: 0,
    });
    expect(parseNvpmodel(fixtureText('jetson-orin-nano', '/.commands/nvpmodel_q.txt'))).toEqual({
      name: 'MAXN_SUPER',
      id: 2,
    });
    expect(parseNvpmodel('NVPM WARN: fan mode is not set!\nNV Power Mode: 15W\n0\n')).toEqual({
      name: '15W',
      id: 0,
    });
  });
  it('answers nothing for malformed output and omits a missing id', () => {
    expect(parseNvpmodel('')).toBeUndefined();
    expect(parseNvpmodel('NV Power Mode:\n')).toBeUndefined();
    expect(parseNvpmodel('NV Power Mode: 7W\n')).toEqual({ name: '7W' });
  });
});

describe('temperatures', () => {
  it('converts millidegrees and rejects implausible readings', () => {
    expect(parseMilliCelsius('48686\n')).toBe(48.7);
    expect(parseMilliCelsius('45\n')).toBe(45);
    expect(parseMilliCelsius('-256000\n')).toBeUndefined();
    expect(parseMilliCelsius('')).toBeUndefined();
    expect(parseMilliCelsius('N/A')).toBeUndefined();
  });
});

describe('parseNvidiaSmi', () => {
  it('reads the captured CSV (MiB, W, °C, %)', () => {
    expect(parseNvidiaSmi(fixtureText('x86-desktop-nvidia', '/.commands/nvidia-smi_query-gpu.txt'))).toEqual([
      {
        kind: 'discrete',
        vendor: 'nvidia',
        name: 'NVIDIA GeForce RTX 3060',
        memoryTotalBytes: 12288 * 2 ** 20,
        memoryFreeBytes: 11786 * 2 ** 20,
        driverVersion: '550.120',
        computeCapability: '8.6',
        powerW: 17.43,
        tempC: 41,
        utilizationPercent: 3,
      },
    ]);
  });
  it('skips [N/A] fields, headers and junk; reads several GPUs', () => {
    const text =
      'name, memory.total [MiB]\nOrin (nvgpu), [N/A], [N/A], 540.4.0, 8.7, [N/A], [N/A], [N/A]\nTesla T4, 15360, 15100, 535.1, 7.5, 9.8, 33, 0\n\nNVIDIA-SMI has failed\n';
    const gpus = parseNvidiaSmi(text);
    expect(gpus.map((g) => g.name)).toEqual(['Orin (nvgpu)', 'Tesla T4']);
    expect(gpus[0]).toEqual({
      kind: 'discrete',
      vendor: 'nvidia',
      name: 'Orin (nvgpu)',
      driverVersion: '540.4.0',
      computeCapability: '8.7',
    });
    expect(parseNvidiaSmi('')).toEqual([]);
  });
  it('reads CUDA version files, old and new', () => {
    expect(parseCudaVersion(fixtureText('jetson-orin-nano', '/usr/local/cuda/version.json'))).toBe('12.6.68');
    expect(parseCudaVersion(fixtureText('jetson-nano', '/usr/local/cuda/version.txt'))).toBe('10.2.300');
    expect(parseCudaVersion('{broken')).toBeUndefined();
  });
});
