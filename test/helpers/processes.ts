import { readFileSync } from 'node:fs';

/**
 * Whether a process still runs: a zombie (ended, waiting for its parent — after a re-parenting, a
 * subreaper that may not reap it soon) counts as ended. Linux `/proc`.
 */
export function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
