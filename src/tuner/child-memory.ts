import { type ChildProcess, type ForkOptions, fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { nodeStartDataBytes } from '../service/node-reserve.js';

/**
 * The memory cap of a measuring child (the derivation child's `--max-memory-mb` guard, for the
 * tuner): a candidate too big for the board must fail alone, as "does not fit", never take the
 * device into the OOM killer. Three layers, as for the deployment's validation child:
 * - V8's heap (`--max-old-space-size`): the child's own JavaScript stays small;
 * - RLIMIT_DATA (`ulimit -d`, set by /bin/sh before it execs node): private writable memory —
 *   onnxruntime's arena and every malloc/mmap — so one huge allocation fails at once inside the
 *   child (std::bad_alloc / "Failed to allocate") instead of paging the device out; address space
 *   V8 only reserves does not count (unlike RLIMIT_AS);
 * - a resident-memory watch in the parent (/proc/<pid>/status every 50 ms): SIGKILL once the
 *   child's RSS passes its baseline + the cap, which holds where the limit above cannot (memory
 *   that grows by many small blocks below the data limit's slack).
 */

/** V8 heap of a measuring child: it holds one input tensor and messages; the weights are native. */
export const CHILD_HEAP_MB = 256;
/**
 * Private writable memory of the child before any session: node, its modules, onnxruntime's code
 * and thread stacks — measured 115-125 MB here (VmData, with tsx); the data limit is this + the cap.
 */
export const CHILD_DATA_BASE_BYTES = 256 * 1048576;
/** Resident memory of the child before a session, until it reports its own (measured 80-95 MB). */
export const CHILD_RSS_BASE_BYTES = 128 * 1048576;
const RSS_POLL_MS = 50;

/** Messages that name a failed allocation (onnxruntime, V8, libc). */
export const ALLOCATION_FAILURE =
  /bad_alloc|Failed to allocate|allocat(e|ion) fail|out of memory|ENOMEM|Cannot allocate|heap limit/i;

/** Resident memory of a process in bytes (Linux /proc); undefined elsewhere or once it is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Forks `script` with the heap cap and, with a cap in bytes and /bin/sh present, RLIMIT_DATA. */
export function forkCapped(
  script: string,
  execArgv: readonly string[],
  capBytes: number | undefined,
  options: Omit<ForkOptions, 'execArgv' | 'execPath'>,
): ChildProcess {
  const nodeArgs = [`--max-old-space-size=${CHILD_HEAP_MB}`, ...execArgv];
  if (capBytes === undefined || !existsSync('/bin/sh'))
    return fork(script, [], { ...options, execArgv: nodeArgs });
  // Plus what a bare node of this build reserves at start (Node 24: ~560 MB), see node-reserve.ts.
  const kb = Math.ceil(
    (CHILD_DATA_BASE_BYTES + nodeStartDataBytes(execArgv, path.extname(script)) + capBytes) / 1024,
  );
  // sh sets the limit for itself and execs node: same pid, the IPC descriptor is inherited.
  return fork(script, [], {
    ...options,
    execPath: '/bin/sh',
    execArgv: ['-c', `ulimit -d ${kb} && exec "$0" "$@"`, process.execPath, ...nodeArgs],
  });
}

/**
 * Watches a child's resident memory: `onExceeded` once it passes baseline + cap. The baseline is
 * the child's own report (setBaseline) once it has one, else CHILD_RSS_BASE_BYTES.
 */
export class ResidentWatch {
  private timer: NodeJS.Timeout | undefined;
  private baseline = CHILD_RSS_BASE_BYTES;
  peakBytes = 0;

  constructor(
    private readonly pid: number,
    readonly capBytes: number,
    private readonly onExceeded: (rssBytes: number, limitBytes: number) => void,
    private readonly read: (pid: number) => number | undefined = residentBytes,
  ) {}

  setBaseline(bytes: number): void {
    this.baseline = bytes;
  }

  get limitBytes(): number {
    return this.baseline + this.capBytes;
  }

  start(): this {
    this.timer = setInterval(() => this.sample(), RSS_POLL_MS);
    this.timer.unref();
    return this;
  }

  sample(): void {
    const rss = this.read(this.pid);
    if (rss === undefined) return;
    this.peakBytes = Math.max(this.peakBytes, rss);
    if (rss > this.limitBytes) {
      this.stop();
      this.onExceeded(rss, this.limitBytes);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Left for the agent and the system when the measuring children take what is available. */
export const MEMORY_RESERVE_BYTES = 64 * 1048576;

export interface MeasuringMemory {
  /** The constraint set's memory budget (policy.memoryBudgetMB, else the profile's, cgroup included). */
  budgetBytes?: number | undefined;
  /** policy.tuning.childMemoryMB / `tune --max-memory-mb`, in bytes. */
  explicitBytes?: number | undefined;
  /** MemAvailable now; undefined when unknown (not Linux). */
  availableBytes?: number | undefined;
  /** Children alive at once, at most (a group: candidates alternate within it). */
  maxLiveProcesses: number;
  /** The largest memory a candidate to measure is expected to need (measured before, else estimated). */
  largestNeedBytes: number;
}

/**
 * The memory cap of each measuring child's session and how many children may be alive at once:
 * the cap is the smallest of the budget, the explicit limit and a share of what the device has
 * available now (less a reserve, less each child's own baseline); on a board short of memory the
 * group shrinks (down to one child) before the share falls below the largest expected need. Pure.
 */
export function measuringMemory(m: MeasuringMemory): {
  capBytes: number | undefined;
  maxLiveProcesses: number;
} {
  const fixed = [m.budgetBytes, m.explicitBytes].filter((b): b is number => b !== undefined);
  const fixedCap = fixed.length > 0 ? Math.min(...fixed) : undefined;
  if (m.availableBytes === undefined) return { capBytes: fixedCap, maxLiveProcesses: m.maxLiveProcesses };
  const spare = Math.max(0, m.availableBytes - MEMORY_RESERVE_BYTES);
  const share = (group: number) => Math.max(0, Math.floor(spare / group) - CHILD_RSS_BASE_BYTES);
  const want = Math.min(fixedCap ?? Number.POSITIVE_INFINITY, m.largestNeedBytes);
  let group = Math.max(1, m.maxLiveProcesses);
  while (group > 1 && share(group) < want) group--;
  return { capBytes: Math.min(fixedCap ?? Number.POSITIVE_INFINITY, share(group)), maxLiveProcesses: group };
}
