import { afterEach, describe, expect, it } from 'vitest';
import { probeExecutionProviders } from '../../../src/hardware/execution-providers.js';
import { readProfile } from '../../../src/hardware/profile.js';
import { type DeviceProfile, profileSchemas } from '../../../src/hardware/schema.js';
import { formatProfileSummary } from '../../../src/hardware/summary.js';
import { type FixtureTree, fixtureRoot, TreeCopy } from '../../helpers/hardware.js';

const GiB = 1024 ** 3;
const read = (tree: FixtureTree | string) =>
  readProfile({
    root: tree.startsWith('/') ? tree : fixtureRoot(tree as FixtureTree),
    probeExecutionProviders: () => probeExecutionProviders(),
  });

function sensor(p: DeviceProfile, name: string) {
  return p.power.sensors.find((s) => s.name === name);
}

describe('profiles of the fixture trees', () => {
  it('Raspberry Pi 4 4 GB: NEON only, USB power, under-voltage since boot, Coral USB unsupported', async () => {
    const p = await read('raspberry-pi-4');
    expect(profileSchemas().deviceProfileSchema.parse(p)).toEqual(p);
    expect(p.board).toMatchObject({
      family: 'raspberry-pi-4',
      soc: 'bcm2711',
      raspberryPiRevision: 'c03114',
      virtualized: false,
      container: false,
    });
    expect(p.cpu).toMatchObject({
      arch: 'aarch64',
      cores: 4,
      features: ['neon'],
      governor: 'ondemand',
      maxMhz: 1800,
    });
    expect(p.cpu.clusters).toEqual([
      { cpus: [0, 1, 2, 3], coreType: 'cortex-a72', maxMhz: 1800, minMhz: 600 },
    ]);
    expect(p.memory.effectiveBudgetBytes).toBe(3882696 * 1024);
    expect(p.memory.cgroup).toBeUndefined();
    expect(p.unavailable.map((u) => u.field)).toContain('memory.cgroup');
    expect(p.power).toMatchObject({ source: 'usb', sensors: [] });
    expect(p.power.battery).toBeUndefined();
    expect(p.thermal.throttling).toMatchObject({ active: false, reasons: [], frequencyCapped: false });
    expect(p.thermal.throttling.raspberryPi).toMatchObject({
      underVoltageSinceBoot: true,
      throttledSinceBoot: true,
      underVoltageNow: false,
    });
    expect(p.accelerators).toEqual([
      expect.objectContaining({ kind: 'coral-edgetpu', interface: 'usb', supported: false }),
    ]);
    expect(p.gpu).toEqual([]);
  });

  it('Raspberry Pi 5 8 GB: dotprod/fp16, throttled now, PMIC power, Hailo unsupported', async () => {
    const p = await read('raspberry-pi-5');
    expect(p.board).toMatchObject({ family: 'raspberry-pi-5', soc: 'bcm2712' });
    expect(p.cpu.features).toEqual(['dotprod', 'fp16', 'neon']);
    expect(p.cpu.curMhz).toBe(1500);
    expect(p.memory.effectiveBudgetBytes).toBe(8245680 * 1024);
    expect(p.power.source).toBe('usb');
    expect(sensor(p, 'pmic-total')).toMatchObject({ kind: 'pmic', total: false, voltageV: 5.1188 });
    expect(sensor(p, 'pmic-total')?.powerW).toBeGreaterThan(3);
    expect(p.thermal.maxTempC).toBe(85.7);
    expect(p.thermal.throttling.active).toBe(true);
    expect(p.thermal.throttling.reasons).toEqual(['ARM frequency capped', 'throttled by the firmware']);
    expect(p.accelerators).toEqual([
      expect.objectContaining({ kind: 'hailo', device: '/dev/hailo0', supported: false }),
    ]);
  });

  it('Raspberry Pi Zero 2 W: a 512 MB budget on Cortex-A53', async () => {
    const p = await read('raspberry-pi-zero-2');
    expect(p.board.family).toBe('raspberry-pi-zero-2');
    expect(p.cpu.clusters[0]).toMatchObject({ coreType: 'cortex-a53', maxMhz: 1000 });
    expect(p.memory.effectiveBudgetBytes).toBe(439592 * 1024);
    expect(p.memory.effectiveBudgetBytes).toBeLessThan(0.5 * GiB);
    expect(p.fingerprintInputs.memoryClassGiB).toBe(0.5);
    expect(p.thermal.throttling.active).toBe(false);
  });

  it('Jetson Nano (L4T 32): legacy INA3221 rails, cgroup v1, Maxwell GPU, MAXN', async () => {
    const p = await read('jetson-nano');
    expect(p.board).toMatchObject({
      family: 'jetson-nano',
      soc: 'tegra210',
      l4tRelease: '32.7.1',
      jetpack: '4.6.1',
    });
    expect(p.cpu).toMatchObject({ modelName: 'ARMv8 Processor rev 1 (v8l)', features: ['neon'] });
    expect(p.memory.cgroup).toEqual({ version: 1, usageBytes: 312475648 });
    expect(p.memory.effectiveBudgetBytes).toBe(4059272 * 1024);
    expect(sensor(p, 'POM_5V_IN')).toMatchObject({
      kind: 'ina3221',
      total: true,
      powerW: 3.584,
      voltageV: 4.992,
      currentA: 0.717,
    });
    expect(p.power.sensors.map((s) => s.name)).toEqual(['POM_5V_IN', 'POM_5V_GPU', 'POM_5V_CPU']);
    expect(p.power.source).toBe('mains');
    expect(p.gpu).toEqual([
      expect.objectContaining({ kind: 'integrated', maxMhz: 922, cudaVersion: '10.2.300' }),
    ]);
    expect(p.thermal.throttling.jetsonPowerMode).toEqual({ name: 'MAXN', id: 0 });
    // PMIC-Die always reads 100 °C: listed, but not the hottest real temperature.
    expect(p.thermal.zones.find((z) => z.type === 'PMIC-Die')?.tempC).toBe(100);
    expect(p.thermal.maxTempC).toBe(42);
    expect(p.thermal.throttling.active).toBe(false);
  });

  it('Jetson Orin Nano (L4T 36): INA3221 on hwmon, dotprod without i8mm, cgroup v2 path walk', async () => {
    const p = await read('jetson-orin-nano');
    expect(p.board).toMatchObject({
      family: 'jetson-orin-nano',
      soc: 'tegra234',
      l4tRelease: '36.4.3',
      jetpack: '6.2',
    });
    expect(p.cpu.features).toEqual(['dotprod', 'fp16', 'neon']);
    expect(p.cpu.clusters).toEqual([
      { cpus: [0, 1, 2, 3, 4, 5], coreType: 'cortex-a78ae', maxMhz: 1728, minMhz: 115.2 },
    ]);
    expect(p.memory.cgroup).toEqual({ version: 2, usageBytes: 287309824 });
    expect(p.power.sensors.map((s) => [s.name, s.total, s.powerW])).toEqual([
      ['VDD_IN', true, 6.229],
      ['VDD_CPU_GPU_CV', false, 1.575],
      ['VDD_SOC', false, 2.948],
    ]);
    expect(p.gpu).toEqual([
      expect.objectContaining({ name: 'NVIDIA Ampere GPU (Orin)', maxMhz: 1020, cudaVersion: '12.6.68' }),
    ]);
    expect(p.thermal.throttling.jetsonPowerMode).toEqual({ name: 'MAXN_SUPER', id: 2 });
    expect(p.thermal.zones.find((z) => z.type === 'cv0-thermal')?.tempC).toBeUndefined();
    expect(p.thermal.zones.find((z) => z.type === 'cpu-thermal')?.trips).toEqual([
      { type: 'passive', tempC: 99 },
      { type: 'critical', tempC: 105 },
    ]);
  });

  it('x86 laptop: on battery, RAPL counters, AVX-VNNI, P/E clusters, no false 0 °C trips', async () => {
    const p = await read('x86-laptop');
    expect(p.board).toMatchObject({
      family: 'x86',
      model: 'LENOVO 21BR001DUS ThinkPad T14s Gen 3',
      virtualized: false,
      container: false,
    });
    expect(p.cpu.features).toEqual(['avx2', 'avxvnni', 'fma']);
    expect(p.cpu.clusters.map((c) => [c.cpus.length, c.maxMhz])).toEqual([
      [8, 4700],
      [8, 3400],
    ]);
    expect(p.power.source).toBe('battery');
    expect(p.power.battery).toMatchObject({
      name: 'BAT0',
      percent: 64,
      status: 'Discharging',
      charging: false,
      powerW: 9.853,
    });
    expect(p.power.battery?.timeRemainingS).toBe(Math.round((36.12 / 9.853) * 3600));
    expect(sensor(p, 'package-0')).toMatchObject({
      kind: 'rapl',
      energyUj: 37816092154,
      maxEnergyRangeUj: 262143328850,
    });
    expect(sensor(p, 'psys')).toMatchObject({ kind: 'rapl' });
    expect(sensor(p, 'BAT0')).toMatchObject({ kind: 'battery', total: true });
    expect(p.thermal.zones.find((z) => z.type === 'x86_pkg_temp')?.trips).toEqual([]);
    expect(p.thermal.throttling.active).toBe(false);
  });

  it('x86 desktop: discrete NVIDIA GPU from nvidia-smi, AVX-512 VNNI without AVX-VNNI', async () => {
    const p = await read('x86-desktop-nvidia');
    expect(p.cpu.features).toEqual(['avx2', 'avx512bf16', 'avx512f', 'avx512vnni', 'fma']);
    expect(p.gpu).toEqual([
      expect.objectContaining({
        kind: 'discrete',
        name: 'NVIDIA GeForce RTX 3060',
        computeCapability: '8.6',
        cudaVersion: '12.4.131',
      }),
    ]);
    expect(sensor(p, 'gpu0')).toMatchObject({ kind: 'nvidia-smi', powerW: 17.43 });
    expect(p.power.source).toBe('unknown');
  });

  it('x86 container: the 1 GiB cgroup limit is the budget, 2-CPU quota, AMX, virtualised', async () => {
    const p = await read('x86-container');
    expect(p.board).toMatchObject({
      family: 'x86',
      virtualized: true,
      hypervisor: 'aws-nitro',
      container: true,
      containerRuntime: 'docker',
    });
    expect(p.cpu).toMatchObject({ cores: 8, quotaCores: 2 });
    expect(p.cpu.features).toEqual([
      'amx',
      'avx2',
      'avx512bf16',
      'avx512f',
      'avx512vnni',
      'avxvnni',
      'fma',
      'fp16',
    ]);
    expect(p.memory.totalBytes).toBe(32386404 * 1024);
    expect(p.memory.cgroup).toEqual({ version: 2, limitBytes: GiB, usageBytes: 187654144 });
    expect(p.memory.effectiveBudgetBytes).toBe(GiB);
    // Used = memory.current − inactive_file.
    expect(p.memory.effectiveAvailableBytes).toBe(GiB - (187654144 - 41943040));
    expect(p.fingerprintInputs.memoryClassGiB).toBe(1);
    expect(p.thermal).toEqual({
      zones: [],
      throttling: { active: false, reasons: [], frequencyCapped: false },
    });
    expect(p.unavailable.map((u) => u.field)).toEqual(
      expect.arrayContaining(['cpu.maxMhz', 'thermal.zones', 'power.battery']),
    );
  });

  it('prints a readable summary', async () => {
    const text = formatProfileSummary(await read('x86-laptop'));
    expect(text).toMatch(/^board\s+LENOVO 21BR001DUS ThinkPad T14s Gen 3 \[x86\]/m);
    expect(text).toMatch(/^battery\s+BAT0: 64%, discharging, 9\.853 W, 3 h 40 min left$/m);
    expect(text).toMatch(/^features\s+avx2 avxvnni fma$/m);
  });
});

describe('fingerprint', () => {
  const copies: TreeCopy[] = [];
  afterEach(() => {
    for (const c of copies.splice(0)) c.dispose();
  });

  it('is stable across battery, temperature, free memory and frequency changes', async () => {
    const copy = new TreeCopy('x86-laptop');
    copies.push(copy);
    const before = await read(copy.root);
    copy.write('/sys/class/power_supply/BAT0/capacity', 12);
    copy.write('/sys/class/power_supply/BAT0/status', 'Charging');
    copy.write('/sys/class/power_supply/AC/online', 1);
    copy.write('/sys/class/thermal/thermal_zone4/temp', 91000);
    copy.write('/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq', 4400000);
    copy.write(
      '/proc/meminfo',
      copy.read('/proc/meminfo').replace(/MemAvailable:\s+\d+/, 'MemAvailable:    2000000'),
    );
    const after = await read(copy.root);
    expect(after.power.source).toBe('mains');
    expect(after.power.battery?.percent).toBe(12);
    expect(after.thermal.maxTempC).toBe(91);
    expect(after.fingerprint).toBe(before.fingerprint);
  });

  it('changes with the CPU feature set, the memory size class and an accelerator', async () => {
    const copy = new TreeCopy('x86-container');
    copies.push(copy);
    const base = (await read(copy.root)).fingerprint;
    copy.write('/proc/cpuinfo', copy.read('/proc/cpuinfo').replaceAll(' amx_tile', ''));
    const noAmx = await read(copy.root);
    expect(noAmx.cpu.features).not.toContain('amx');
    expect(noAmx.fingerprint).not.toBe(base);

    copy.write('/sys/fs/cgroup/memory.max', 4 * GiB);
    const bigger = await read(copy.root);
    expect(bigger.fingerprint).not.toBe(noAmx.fingerprint);

    copy.write('/dev/hailo0', '');
    expect((await read(copy.root)).fingerprint).not.toBe(bigger.fingerprint);
  });

  it('differs between boards', async () => {
    const prints = await Promise.all(
      (['raspberry-pi-4', 'raspberry-pi-5', 'jetson-nano', 'x86-laptop'] as const).map(
        async (t) => (await read(t)).fingerprint,
      ),
    );
    expect(new Set(prints).size).toBe(4);
  });
});

describe('missing and malformed files', () => {
  it('profiles an empty tree without throwing, listing what is missing', async () => {
    const copy = new TreeCopy('x86-container');
    try {
      for (const f of ['/proc', '/sys', '/etc', '/.dockerenv', '/dev']) copy.remove(f);
      const p = await read(copy.root);
      expect(p.board.family).toBe('unknown');
      expect(p.cpu.cores).toBe(0);
      expect(p.memory.totalBytes).toBe(0);
      expect(p.unavailable.map((u) => u.field)).toEqual(
        expect.arrayContaining(['cpu', 'memory', 'board.model', 'os.kernel']),
      );
      expect(p.unavailable.find((u) => u.field === 'memory')?.reason).toBe('/proc/meminfo: absent');
    } finally {
      copy.dispose();
    }
  });

  it('reports malformed board files with a reason', async () => {
    const copy = new TreeCopy('jetson-orin-nano');
    try {
      copy.write('/etc/nv_tegra_release', 'garbage\n');
      copy.write('/proc/meminfo', 'nonsense\n');
      copy.write('/.commands/nvpmodel_q.txt', 'NVPM ERROR: failed to open\n');
      copy.write('/sys/class/hwmon/hwmon1/curr1_input', '');
      const p = await read(copy.root);
      const reasons = Object.fromEntries(p.unavailable.map((u) => [u.field, u.reason]));
      expect(reasons['board.l4tRelease']).toMatch(/unrecognised "garbage"/);
      expect(reasons['memory.totalBytes']).toMatch(/no MemTotal/);
      expect(reasons['thermal.throttling.jetsonPowerMode']).toMatch(/no "NV Power Mode" line/);
      expect(p.board.l4tRelease).toBeUndefined();
      expect(p.thermal.throttling.jetsonPowerMode).toBeUndefined();
      expect(p.power.sensors.map((s) => s.name)).toEqual(['VDD_CPU_GPU_CV', 'VDD_SOC']);
    } finally {
      copy.dispose();
    }
  });
});
