import { describe, expect, it } from 'vitest';
import {
  derivePowerSource,
  isTotalRail,
  parseBattery,
  parsePmicAdc,
  parseSupply,
  raplDeltaUj,
  systemBatteries,
} from '../../../src/hardware/parse/power.js';
import { fixtureText } from '../../helpers/hardware.js';

const battery = (attrs: Record<string, string | number>) =>
  parseSupply(
    'BAT0',
    Object.fromEntries(Object.entries({ type: 'Battery', ...attrs }).map(([k, v]) => [k, `${v}\n`])),
  );

describe('parseBattery', () => {
  it('uses power_now and energy_* (µW, µWh) and estimates time to empty', () => {
    const b = parseBattery(
      battery({
        status: 'Discharging',
        capacity: 64,
        power_now: 9853000,
        voltage_now: 15842000,
        energy_now: 36120000,
        energy_full: 54860000,
      }),
    );
    expect(b).toEqual({
      name: 'BAT0',
      status: 'Discharging',
      charging: false,
      percent: 64,
      powerW: 9.853,
      voltageV: 15.842,
      energyWh: 36.12,
      energyFullWh: 54.86,
      timeRemainingS: Math.round((36.12 / 9.853) * 3600),
    });
  });

  it('computes power from current_now × voltage_now and energy from charge (µA, µV, µAh)', () => {
    const b = parseBattery(
      battery({
        status: 'Charging',
        current_now: 1500000,
        voltage_now: 12000000,
        voltage_min_design: 11400000,
        charge_now: 2000000,
        charge_full: 4000000,
      }),
    );
    expect(b.powerW).toBe(18);
    expect(b.percent).toBe(50);
    expect(b.charging).toBe(true);
    expect(b.energyWh).toBeCloseTo(22.8, 3);
    // To full: (45.6 - 22.8) Wh at 18 W.
    expect(b.timeRemainingS).toBe(Math.round((22.8 / 18) * 3600));
  });

  it('takes the magnitude of signed power and prefers the kernel time_to_empty_now', () => {
    const b = parseBattery(
      battery({
        status: 'Discharging',
        capacity: 30,
        current_now: -2000000,
        voltage_now: 7600000,
        time_to_empty_now: 5400,
      }),
    );
    expect(b.powerW).toBe(15.2);
    expect(b.timeRemainingS).toBe(5400);
  });

  it('leaves out what is absent or garbled without throwing', () => {
    expect(parseBattery(battery({}))).toEqual({ name: 'BAT0', status: 'Unknown', charging: false });
    expect(parseBattery(battery({ status: 'Full', capacity: 'n/a', power_now: '' }))).toEqual({
      name: 'BAT0',
      status: 'Full',
      charging: false,
    });
  });
});

describe('derivePowerSource', () => {
  const mains = (online: number) => parseSupply('AC', { type: 'Mains\n', online: `${online}\n` });
  const usb = (online: number) =>
    parseSupply('ucsi-source-psy-USBC000:001', { type: 'USB\n', online: `${online}\n` });
  it.each([
    [[mains(1), battery({ status: 'Charging' })], 'x86', 'mains'],
    [[mains(0), battery({ status: 'Discharging' })], 'x86', 'battery'],
    [[mains(0), usb(1), battery({ status: 'Charging' })], 'x86', 'usb'],
    [[battery({ status: 'Full' })], 'x86', 'mains'],
    [[battery({ status: 'Unknown' })], 'x86', 'unknown'],
    [[], 'raspberry-pi-5', 'usb'],
    [[], 'jetson-orin-nano', 'mains'],
    [[], 'x86', 'unknown'],
  ] as const)('%#: → %s / %s', (supplies, family, expected) => {
    const r = derivePowerSource(supplies, family);
    expect(r.source).toBe(expected);
    expect(r.reason.length).toBeGreaterThan(5);
  });
  it('ignores peripheral batteries (scope Device)', () => {
    const mouse = parseSupply('hid-mouse-battery', {
      type: 'Battery\n',
      scope: 'Device\n',
      status: 'Discharging\n',
    });
    expect(systemBatteries([mouse])).toEqual([]);
    expect(derivePowerSource([mouse], 'x86').source).toBe('unknown');
  });
});

describe('parsePmicAdc (Raspberry Pi 5)', () => {
  it('pairs current and voltage rails and sums their power', () => {
    const r = parsePmicAdc(fixtureText('raspberry-pi-5', '/.commands/vcgencmd_pmic_read_adc.txt'));
    const core = r.rails.find((x) => x.name === 'VDD_CORE');
    expect(core).toEqual({ name: 'VDD_CORE', currentA: 3.182, voltageV: 0.8415, powerW: 2.6777 });
    expect(r.inputV).toBe(5.1188);
    const expected = r.rails.reduce(
      (sum, x) => sum + (x.currentA !== undefined && x.voltageV !== undefined ? x.currentA * x.voltageV : 0),
      0,
    );
    expect(r.totalW).toBeCloseTo(expected, 2);
    expect(r.totalW).toBeGreaterThan(3);
  });
  it('answers no total for empty or foreign output', () => {
    expect(parsePmicAdc('')).toEqual({ rails: [] });
    expect(parsePmicAdc('error=1 error_msg="Command not registered"\n').totalW).toBeUndefined();
  });
});

describe('RAPL counters and rails', () => {
  it('handles counter wrap-around with max_energy_range_uj', () => {
    expect(raplDeltaUj(1000, 5000, 262143328850)).toBe(4000);
    expect(raplDeltaUj(262143328000, 150, 262143328850)).toBe(850 + 150);
    expect(raplDeltaUj(5000, 1000, undefined)).toBeUndefined();
  });
  it('knows which INA3221 rails are the board input', () => {
    expect(['VDD_IN', 'POM_5V_IN', 'VIN_SYS_5V0'].every(isTotalRail)).toBe(true);
    expect(['VDD_SOC', 'POM_5V_GPU', 'VDD_CPU_GPU_CV'].some(isTotalRail)).toBe(false);
  });
});
