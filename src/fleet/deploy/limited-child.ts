import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { errorMessage } from '../../errors.js';
import { nodeStartDataBytes } from '../../service/node-reserve.js';
import { DeployError } from './errors.js';

/** How often the child's resident memory is read (/proc/<pid>/status). */
const RSS_POLL_MS = 50;

export interface ChildLimits {
  /** Killed (SIGKILL) when not done by then. */
  timeoutMs: number;
  /** V8 heap cap of the child. */
  maxHeapMB: number;
  /**
   * Native memory cap, two ways: RLIMIT_DATA (the shell's `ulimit -d`: private writable memory,
   * malloc'd and mmap'd — a single huge allocation fails at once; unlike RLIMIT_AS it ignores the
   * address space V8 and WebAssembly only reserve), and resident memory above it → SIGKILL (polled
   * every 50 ms). Absent: no native limit.
   */
  memoryMB?: number | undefined;
  /** false: the resident-memory watch only, no RLIMIT_DATA (tests of the watch). Default true. */
  rlimit?: boolean;
  signal?: AbortSignal | undefined;
  /** What the child is doing, for messages ("validation", "comparison"). */
  what: string;
}

export interface ChildOutcome<T> {
  result: T;
  /** Highest resident memory seen (MB), when /proc could be read. */
  peakRssMB: number | undefined;
}

function childEntry(): { script: string; execArgv: string[] } {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const js = path.join(dir, 'validate-child.js');
  if (existsSync(js)) return { script: js, execArgv: [] };
  const loader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { script: path.join(dir, 'validate-child.ts'), execArgv: ['--import', loader] };
}

/** Resident memory of a process in MB (Linux /proc); undefined elsewhere or once it is gone. */
export function residentMB(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function spawnLimited(limits: ChildLimits): ChildProcess {
  const { script, execArgv } = childEntry();
  const nodeArgs = [...execArgv, `--max-old-space-size=${limits.maxHeapMB}`];
  const common = { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] as const, serialization: 'advanced' as const };
  if (limits.memoryMB === undefined || limits.rlimit === false || !existsSync('/bin/sh'))
    return fork(script, [], { ...common, stdio: [...common.stdio], execArgv: nodeArgs });
  // sh sets RLIMIT_DATA for itself and execs node (same pid, IPC descriptor inherited).
  // On top of what a bare node of this build reserves at start (Node 24: ~560 MB), see node-reserve.ts.
  const kb = Math.round(limits.memoryMB * 1024 + nodeStartDataBytes(execArgv, path.extname(script)) / 1024);
  return fork(script, [], {
    ...common,
    stdio: [...common.stdio],
    execPath: '/bin/sh',
    execArgv: ['-c', `ulimit -d ${kb} && exec "$0" "$@"`, process.execPath, ...nodeArgs],
  });
}

/** Messages that name a failed allocation (onnxruntime, V8, libc). */
const ALLOCATION_FAILURE =
  /bad_alloc|Failed to allocate|allocat(e|ion) fail|out of memory|ENOMEM|Cannot allocate/i;

/**
 * Runs one job in a fresh child process under time and memory limits and returns its answer. A
 * job that crashes, hangs or balloons kills the child (reported as a DeployError), never the agent.
 */
export function runLimitedChild<T>(
  job: Record<string, unknown>,
  limits: ChildLimits,
): Promise<ChildOutcome<T>> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawnLimited(limits);
    } catch (err) {
      reject(new DeployError('validate', `cannot start the ${limits.what} process: ${errorMessage(err)}`));
      return;
    }
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-4000);
    });
    let outcome: { ok: T } | { error: string } | undefined;
    let killedFor: string | undefined;
    let peak: number | undefined;
    const kill = (why: string) => {
      killedFor ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill(`not done within ${limits.timeoutMs} ms`), limits.timeoutMs);
    const poll =
      limits.memoryMB !== undefined && child.pid !== undefined
        ? setInterval(() => {
            const rss = residentMB(child.pid!);
            if (rss === undefined) return;
            peak = Math.max(peak ?? 0, rss);
            if (rss > limits.memoryMB!)
              kill(`used ${Math.round(rss)} MB of memory, above the limit of ${limits.memoryMB} MB; killed`);
          }, RSS_POLL_MS)
        : undefined;
    const onAbort = () => kill('agent stopping');
    limits.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (m: { type: 'result'; result: T } | { type: 'error'; message: string }) => {
      outcome = m.type === 'result' ? { ok: m.result } : { error: m.message };
    });
    child.once('error', (err) => {
      // Never started (no /bin/sh, no node): there will be no exit event.
      if (child.pid === undefined) {
        clearTimeout(timer);
        if (poll) clearInterval(poll);
        limits.signal?.removeEventListener('abort', onAbort);
        reject(new DeployError('validate', `cannot start the ${limits.what} process: ${errorMessage(err)}`));
      } else kill(errorMessage(err));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (poll) clearInterval(poll);
      limits.signal?.removeEventListener('abort', onAbort);
      if (outcome && 'ok' in outcome && !killedFor) return resolve({ result: outcome.ok, peakRssMB: peak });
      if (killedFor) return reject(new DeployError('validate', `the ${limits.what} process ${killedFor}`));
      const last = stderr.trim().split('\n').at(-1)?.slice(0, 300);
      const message = outcome && 'error' in outcome ? outcome.error : (last ?? '');
      if (limits.memoryMB !== undefined && ALLOCATION_FAILURE.test(`${message}\n${stderr}`))
        return reject(
          new DeployError(
            'validate',
            `the ${limits.what} process could not allocate memory within its limit of ${limits.memoryMB} MB: ${message.slice(0, 300)}`,
          ),
        );
      if (outcome) return reject(new DeployError('validate', `onnxruntime refused the model: ${message}`));
      reject(
        new DeployError(
          'validate',
          `the ${limits.what} process ${signal ? `was killed (${signal})` : `exited with code ${code}`}${last ? ` (${last})` : ''}`,
        ),
      );
    });
    child.send(job, (err) => {
      if (err) kill(`could not be given its job: ${errorMessage(err)}`);
    });
  });
}
