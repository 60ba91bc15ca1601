import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const cached = new Map<string, number>();

/**
 * Private writable memory (VmData) a `node` of this build holds right after it has loaded a module
 * the way a child does — same node arguments (`execArgv`), an entry file of the same kind (`ext`) —
 * in bytes. RLIMIT_DATA counts it although most of it is reserved, not touched: Node 20 starts at
 * ~48 MB, Node 24 at ~560 MB (V8's reservations), and on Node 24 a `.ts` entry under the tsx loader
 * starts one more V8 isolate (~1.1 GB in all; a `.js` entry, or `node -e`, does not). A child's data
 * limit is this plus what it may use, or a Node 24 child would fail to start under a limit meant for
 * its work. Measured once per kind (a probe that exits at once, ~50–300 ms), then cached; 0 when it
 * cannot be read (then the limits are as configured).
 */
export function nodeStartDataBytes(execArgv: readonly string[] = [], ext = '.mjs'): number {
  const key = `${ext}\0${execArgv.join('\0')}`;
  const known = cached.get(key);
  if (known !== undefined) return known;
  const dir = mkdtempSync(path.join(tmpdir(), 'ea-node-reserve-'));
  let bytes = 0;
  try {
    const probe = path.join(dir, `probe${ext}`);
    writeFileSync(
      probe,
      "import { readFileSync } from 'node:fs';\n" +
        "process.stdout.write(/VmData:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0');\n",
    );
    const r = spawnSync(process.execPath, [...execArgv, probe], { encoding: 'utf8', timeout: 15_000 });
    const kb = Number(r.stdout);
    bytes = Number.isFinite(kb) && kb > 0 ? kb * 1024 : 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  cached.set(key, bytes);
  return bytes;
}
