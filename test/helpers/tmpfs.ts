import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

/**
 * A small tmpfs for disk-full tests (needs root or CAP_SYS_ADMIN). Not permitted: undefined and a
 * printed reason, so the test is skipped — except in CI (EDGE_AGENT_CI=1), where it fails.
 */
export function mountTmpfs(dir: string, size: string): { dir: string; unmount(): void } | undefined {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    const reason = `cannot mount a tmpfs at ${dir} (${String((err as { stderr?: unknown }).stderr ?? err).trim()})`;
    if (process.env.EDGE_AGENT_CI === '1')
      throw new Error(`${reason}; CI (EDGE_AGENT_CI=1) must run this test as root`);
    process.stderr.write(`[skip] ${reason}; disk-full tests need root\n`);
    return undefined;
  }
  return {
    dir,
    unmount: () => {
      try {
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      } catch (err) {
        process.stderr.write(`umount ${dir} failed: ${String(err)}\n`);
      }
    },
  };
}

/** Writes zeros into DIR/name until the file system is full; returns the bytes written. */
export function fillDisk(dir: string, name = 'filler'): number {
  const fd = openSync(path.join(dir, name), 'w');
  const chunk = Buffer.alloc(16 * 1024);
  let written = 0;
  try {
    for (;;) {
      try {
        written += writeSync(fd, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw err;
      }
    }
    // The last partial block: smaller writes until not even one byte fits.
    for (const size of [4096, 512, 1]) {
      try {
        for (;;) written += writeSync(fd, chunk.subarray(0, size));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}
