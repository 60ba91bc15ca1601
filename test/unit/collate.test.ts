import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareText, naturalCompare } from '../../src/collate.js';
import { REPO } from '../helpers/paths.js';

const SRC = path.join(REPO, 'src');

const sign = (n: number) => Math.sign(n);
// Names as sysfs has them: letters, digits (no leading zeros), separators.
const token = fc.oneof(
  fc.stringMatching(/^[a-z]{1,4}$/),
  fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  fc.constantFrom('_', '-', '.', ':'),
);
const name = fc.array(token, { maxLength: 6 }).map((t) => t.join(''));
const anyText = fc.string({ unit: 'binary', maxLength: 12 });

describe('collate', () => {
  it('naturalCompare puts numbers in numeric order', () => {
    const sorted = ['cpu10', 'cpu2', 'cpu1', 'thermal_zone10', 'thermal_zone9', 'a', 'a01', 'a1', 'a2b'];
    expect(sorted.sort(naturalCompare)).toEqual([
      'a',
      'a01',
      'a1',
      'a2b',
      'cpu1',
      'cpu2',
      'cpu10',
      'thermal_zone9',
      'thermal_zone10',
    ]);
    // Beyond Number's precision: still by value.
    expect(naturalCompare('x123456789012345678901', 'x123456789012345678902')).toBeLessThan(0);
  });

  it('naturalCompare agrees with ICU numeric collation on lower-case names with digits', () => {
    const letters = fc.array(
      fc.oneof(fc.stringMatching(/^[a-z]{1,3}$/), fc.integer({ min: 1, max: 99999 }).map(String)),
      {
        maxLength: 5,
      },
    );
    fc.assert(
      fc.property(letters, letters, (x, y) => {
        const a = x.join('');
        const b = y.join('');
        expect(sign(naturalCompare(a, b))).toBe(sign(a.localeCompare(b, 'en', { numeric: true })));
      }),
    );
  });

  it('both are total orders: antisymmetric, transitive, zero only for equal strings', () => {
    for (const [compare, gen] of [
      [naturalCompare, name],
      [naturalCompare, anyText],
      [compareText, anyText],
    ] as const) {
      fc.assert(
        fc.property(gen, gen, gen, (a, b, c) => {
          expect(sign(compare(a, b)) + sign(compare(b, a))).toBe(0);
          expect(compare(a, b) === 0).toBe(a === b);
          const [x, y, z] = [a, b, c].sort(compare);
          expect(compare(x!, z!)).toBeLessThanOrEqual(0);
          expect(compare(x!, y!)).toBeLessThanOrEqual(0);
        }),
      );
    }
  });

  it('the code the agent runs calls nothing that loads ICU data (the optimiser child and the browser aside)', () => {
    // localeCompare, Intl and toLocale* map ICU tables that stay resident: +3 to +8 MB RSS in a bare
    // node (docs/memory.md). The derivation child (src/optimize) keeps its orders: they fix its bytes.
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory()) {
          if (!['optimize', 'public'].includes(entry.name)) walk(file);
        } else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) {
          readFileSync(file, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              const code = /^\s*(\*|\/\*)/.test(line) ? '' : line.replace(/\/\/.*$/, ''); // comments aside
              if (/localeCompare|\bIntl\.|toLocale\w*\(/.test(code))
                offenders.push(`${path.relative(SRC, file)}:${i + 1}`);
            });
        }
      }
    };
    walk(SRC);
    expect(offenders).toEqual([]);
  });
});
