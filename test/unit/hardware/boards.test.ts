import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BOARD_FAMILIES,
  BOARDS,
  type BoardDescriptor,
  boardDescriptor,
  classifyBoard,
} from '../../../src/hardware/boards.js';
import { parseCompatible, parseDeviceTreeString } from '../../../src/hardware/parse/board.js';
import { profileSchemas } from '../../../src/hardware/schema.js';
import { FIXTURE_TREES, fixtureRoot, fixtureText } from '../../helpers/hardware.js';

const descriptors: readonly BoardDescriptor[] = BOARDS;

describe('board descriptors', () => {
  it('one descriptor per family, and the profile schema accepts exactly those families', () => {
    expect(new Set(BOARD_FAMILIES).size).toBe(BOARDS.length);
    for (const family of BOARD_FAMILIES) {
      expect(boardDescriptor(family).family).toBe(family);
      expect(profileSchemas().boardFamilySchema.parse(family)).toBe(family);
    }
    expect(profileSchemas().boardFamilySchema.safeParse('raspberry-pi-6').success).toBe(false);
  });

  it('every named board has power defaults: idle below active, with where the figures come from', () => {
    for (const d of descriptors) {
      if (d.detect.model === undefined) {
        expect(d.power, d.family).toBeUndefined();
        continue;
      }
      expect(d.power, d.family).toBeDefined();
      expect(d.power!.idleW).toBeGreaterThan(0);
      expect(d.power!.activeW).toBeGreaterThan(d.power!.idleW);
      expect(d.power!.basis.length).toBeGreaterThan(20);
    }
  });

  it('sensors hang together: the PMIC and throttle flags are Pi firmware, nvpmodel goes with L4T', () => {
    for (const d of descriptors) {
      if (d.sensors.pmic) expect(d.sensors.vcgencmdThrottled, d.family).toBe(true);
      expect(d.sensors.nvpmodel, d.family).toBe(d.sensors.l4tRelease);
      expect(d.sensors.vcgencmdThrottled, d.family).toBe(d.sensors.raspberryPiRevision);
    }
  });

  it('each fixture board matches exactly one descriptor, so the list order never decides', () => {
    for (const tree of FIXTURE_TREES) {
      if (!existsSync(path.join(fixtureRoot(tree), 'proc/device-tree/model'))) continue;
      const model = parseDeviceTreeString(fixtureText(tree, '/proc/device-tree/model')) ?? '';
      const compatible = parseCompatible(fixtureText(tree, '/proc/device-tree/compatible')).join(' ');
      const matching = descriptors.filter(
        (d) => (d.detect.model?.test(model) ?? false) || (d.detect.compatible?.test(compatible) ?? false),
      );
      expect(matching.map((d) => d.family)).toEqual([tree]);
      expect(classifyBoard(model, compatible.split(' '), 'aarch64')).toBe(tree);
    }
  });

  it('falls back on the generic family of the CPU architecture', () => {
    expect(classifyBoard(undefined, [], 'x86_64')).toBe('x86');
    expect(classifyBoard('Some SBC', ['vendor,board'], 'aarch64')).toBe('arm');
    expect(classifyBoard(undefined, [], 'armv7l')).toBe('arm');
    expect(classifyBoard(undefined, [], 'unknown')).toBe('unknown');
  });
});
