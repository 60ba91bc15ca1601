import { spawnSync } from 'node:child_process';

let cached: number | undefined;

/**
 * Private writable memory (VmData) a bare `node` of this build holds right after start, in bytes.
 * RLIMIT_DATA counts it although most of it is reserved, not touched: Node 20 starts at ~48 MB,
 * Node 24 at ~560 MB (V8's reservations). A child's data limit is this plus what it may use, or a
 * Node 24 child would fail to start under a limit meant for its work. Measured once (a bare node,
 * ~50 ms), then cached; 0 when it cannot be read (then the limits are as configured).
 */
export function nodeStartDataBytes(): number {
  if (cached !== undefined) return cached;
  const probe =
    "process.stdout.write(/VmData:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status','utf8'))?.[1] ?? '0')";
  const r = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 5000 });
  const kb = Number(r.stdout);
  cached = Number.isFinite(kb) && kb > 0 ? kb * 1024 : 0;
  return cached;
}
