import { spawnSync } from 'node:child_process';

/**
 * `promtool check metrics` on an exposition text (promtool is in Debian's `prometheus` package).
 * Returns its exit code and the complaints it printed (one per line; empty when clean).
 */
export function promtoolCheckMetrics(text: string): { status: number | null; problems: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status, problems: `${run.stdout}${run.stderr}`.trim() };
}
