import { describe, expect, it } from 'vitest';
import { MAX_THREADS, parseThreadsFlag } from '../../../src/cli/threads.js';
import { UsageError } from '../../../src/errors.js';

const parse = (value: string | undefined, force = false, cores = 4) =>
  parseThreadsFlag({ command: 'infer', value, cores, force });

describe('parseThreadsFlag', () => {
  it.each([
    [undefined, undefined],
    ['0', 0],
    ['1', 1],
    ['4', 4],
  ])('accepts %s on a 4-core device', (value, expected) => {
    expect(parse(value)).toBe(expected);
  });

  it.each(['5', '200'])('refuses %s threads on a 4-core device without --force', (value) => {
    expect(() => parse(value)).toThrow(UsageError);
    expect(() => parse(value)).toThrow(/more than the 4 cores this device has.*--force/);
  });

  it('allows more threads than cores with --force, up to the config bound', () => {
    expect(parse('16', true)).toBe(16);
    expect(parse(String(MAX_THREADS), true)).toBe(MAX_THREADS);
    expect(() => parse(String(MAX_THREADS + 1), true)).toThrow(/integer from 0 to 256/);
    expect(() => parse('100000', true)).toThrow(/integer from 0 to 256/);
  });

  it.each(['-1', '1.5', 'many', '', ' ', '1e3', 'Infinity'])(
    'refuses "%s" as not an integer in range',
    (value) => {
      expect(() => parse(value, true)).toThrow(/--threads expects an integer from 0 to 256/);
    },
  );

  it('exits 2 (a usage error)', () => {
    try {
      parse('100000');
      expect.unreachable();
    } catch (err) {
      expect((err as UsageError).exitCode).toBe(2);
    }
  });
});
