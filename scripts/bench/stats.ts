import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/paths.js';

/** The agent's own nearest-rank percentile (0..100) of unsorted values; NaN when empty. */
export { percentileOf as percentile } from '../../src/telemetry/percentiles.js';

export const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

export function markdownTable(header: string[], rows: Array<Array<string | number>>): string {
  const line = (cells: Array<string | number>) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * CPU time (ms, user + system) used so far by this process's child processes named `name` that
 * are still running (Linux /proc; 0 elsewhere). For per-frame costs of a capture process.
 */
export function childCpuMs(name: string): number {
  let ticks = 0;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return 0;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      if (stat.slice(stat.indexOf('(') + 1, close) !== name) continue;
      const fields = stat.slice(close + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue; // ppid
      ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
    } catch {
      // the process ended meanwhile
    }
  }
  return (ticks * 1000) / CLOCK_TICKS;
}

/**
 * CPU time (ms, user + system) of this process's main thread so far (Linux /proc: the main
 * thread's task id is the pid; 0 elsewhere) — what the event loop costs, apart from the workers.
 */
export function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** USER_HZ: 100 on every Linux build we ship to. */
const CLOCK_TICKS = 100;

/**
 * A section run alone: writes bench/<name>.json (stamped with the time) and bench/<name>.md, and
 * prints the markdown.
 */
export function writeStandalone(name: string, result: { json: unknown; markdown: string }): void {
  const dir = path.join(packageRoot(), 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, `${name}.json`),
    `${JSON.stringify({ at: new Date().toISOString(), ...(result.json as object) }, null, 2)}\n`,
  );
  writeFileSync(path.join(dir, `${name}.md`), result.markdown);
  process.stdout.write(result.markdown);
}
