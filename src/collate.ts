/**
 * String orders that do not touch ICU. `localeCompare` and `Intl.Collator` load ICU's collation
 * data, which stays resident for the life of the process: +3 MB RSS for one call in a bare node
 * (+8 MB for `Intl.DateTimeFormat` or `toLocaleString`), measured in docs/memory.md. The agent
 * sorts identifiers and file names, where code-point order is the right order anyway.
 */

/** Code-point order (identifiers, names): the same on every device, whatever its locale. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const RUNS = /\d+|\D+/g;

/**
 * `cpu2` before `cpu10`, `thermal_zone9` before `thermal_zone10`: runs of digits compare as numbers
 * (leading zeros aside, then the shorter spelling first), everything else by code point.
 */
export function naturalCompare(a: string, b: string): number {
  const x = a.match(RUNS) ?? [];
  const y = b.match(RUNS) ?? [];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const p = x[i]!;
    const q = y[i]!;
    if (p === q) continue;
    if (isDigit(p) && isDigit(q)) {
      const by = compareDigits(p, q);
      if (by !== 0) return by;
    }
    return compareText(p, q);
  }
  return x.length - y.length;
}

function isDigit(run: string): boolean {
  const c = run.charCodeAt(0);
  return c >= 48 && c <= 57;
}

/** Numeric order of two digit runs of any length (no precision limit). */
function compareDigits(p: string, q: string): number {
  const u = p.replace(/^0+(?=\d)/, '');
  const v = q.replace(/^0+(?=\d)/, '');
  if (u.length !== v.length) return u.length - v.length;
  return compareText(u, v);
}
