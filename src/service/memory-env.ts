/**
 * glibc malloc settings the agent runs with; they must be in place before the process starts
 * (glibc reads them once; there is no `mallopt` from JavaScript). deploy/edge-agent.service,
 * Dockerfile.arm64 and `npm start` set them; `edge-agent run` started without them re-executes
 * itself with them where Node can (`process.execve`, Node ≥ 22.15). Measured in docs/memory.md:
 * - two arenas instead of 8 per core for onnxruntime's, libvips' and the worker's threads;
 * - a fixed 64 KiB mmap threshold and immediate trim: glibc otherwise raises the threshold after the
 *   first freed frame or output buffer and then keeps every later one in its heap (−12 to −16 MB
 *   anonymous with yolox-nano, CPU per frame unchanged).
 */
export const AGENT_MALLOC_ENV = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
  MALLOC_TRIM_THRESHOLD_: '0',
} as const;

/** V8's young generation on the main thread (it grows to 16 MB semi-spaces under a frame loop). */
export const AGENT_V8_FLAGS = ['--max-semi-space-size=2'] as const;

/**
 * node arguments NODE_OPTIONS does not accept, on the command line of the unit and the image
 * (docs/memory.md, measured with `npm run bench:memory-breakdown`):
 * - `--optimize-for-size` grows V8's old generation less eagerly (main heap 31 → 26 MB, −6 to −9 MB
 *   anonymous; agent CPU per frame +0–3 %, within the run-to-run spread);
 * - `--no-sparkplug --bytecode-old-age=1`: no baseline-compiled copy of warm functions, and bytecode
 *   of functions not run since the last full collection dropped sooner (start-up code, run once):
 *   main heap −2.5 MB, RSS −3 MB; hot code is still optimised by TurboFan, CPU per frame unchanged.
 */
export const AGENT_NODE_ARGS = ['--optimize-for-size', '--no-sparkplug', '--bytecode-old-age=1'] as const;

/**
 * The lean runtime, asked for with `EDGE_AGENT_LEAN=1` (or the flag on node's command line): V8
 * without its optimising compilers (`--lite-mode`, which implies `--jitless`), so their code in the
 * node binary is never paged in — 6–7 MB less RSS on Node 20, 9–12 MB on Node 24 (docs/memory.md,
 * "Ninth round"). CPU per frame is unchanged when the model takes camera bytes as they are
 * (YOLOX-nano, any `input-uint8` variant) and about doubles for a float model that normalises its
 * input (slim-320), whose per-pixel loop then runs in V8's interpreter. No WebAssembly (nothing in
 * the agent uses it; Node 22 needs it at start, see leanSupported). Children (derivation, tuning) keep
 * the JIT: their node arguments are their own.
 */
export const AGENT_LEAN_NODE_ARGS = ['--lite-mode'] as const;

const LEAN_FLAGS: readonly string[] = ['--lite-mode', '--jitless'];

/** True when this process runs without V8's optimising compilers. */
export function isLean(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((a) => LEAN_FLAGS.includes(a));
}

/**
 * The Node versions the lean runtime works on: 20 and 24 or later (tested on 20.20 and 24.22). On
 * Node 22 (22.23) importing `node:http` as an ES module touches its lazy `WebSocket` export, which
 * loads undici, which compiles its HTTP parser with WebAssembly — absent under `--jitless` — and the
 * process dies of the unhandled rejection at start.
 */
export function leanSupported(version: string = process.versions.node): boolean {
  const major = Number(version.split('.')[0]);
  return major === 20 || major >= 24;
}

type Env = Readonly<Record<string, string | undefined>>;

/** `EDGE_AGENT_LEAN=1` asked for the lean runtime, this Node has it, and this process does not run it yet. */
export function leanWanted(env: Env, execArgv: readonly string[], version?: string): boolean {
  return env.EDGE_AGENT_LEAN === '1' && !isLean(execArgv) && leanSupported(version);
}

/**
 * Whether the agent's `run` on this machine serves on the lean runtime: this process is lean, or
 * `EDGE_AGENT_LEAN=1` asks for it and `run` can re-execute into it (Node 24's `process.execve`,
 * re-execution not turned off). The tuner measures under the same runtime (docs/tuner.md), also when
 * run as `edge-agent tune` beside the agent (the image sets `EDGE_AGENT_LEAN=1`).
 */
export function agentRunsLean(
  env: Env = process.env,
  execArgv: readonly string[] = process.execArgv,
  version?: string,
  canReexec: boolean = typeof (process as unknown as { execve?: unknown }).execve === 'function',
): boolean {
  if (isLean(execArgv)) return leanSupported(version);
  return leanWanted(env, execArgv, version) && canReexec && env.EDGE_AGENT_NO_REEXEC !== '1';
}

/**
 * Pure: the arguments and environment to re-execute with, or undefined when the environment
 * already has every malloc setting (a value the operator set is kept) and no lean runtime is asked
 * for that is not running, or re-execution is turned off (`EDGE_AGENT_NO_REEXEC=1`). The V8 flags
 * are added unless NODE_OPTIONS or the node arguments already have them (a semi-space size of the
 * operator's is kept).
 */
export function memoryReexec(
  env: Env,
  execArgv: readonly string[],
  version?: string,
): { env: Record<string, string>; execArgv: string[] } | undefined {
  if (env.EDGE_AGENT_NO_REEXEC === '1') return undefined;
  const missing = Object.entries(AGENT_MALLOC_ENV).filter(([key]) => env[key] === undefined);
  const lean = leanWanted(env, execArgv, version);
  // Lean by the command line where the lean runtime cannot start: restart without it.
  const unlean = isLean(execArgv) && !leanSupported(version);
  const args = unlean ? execArgv.filter((a) => !LEAN_FLAGS.includes(a)) : execArgv;
  if (missing.length === 0 && !lean && !unlean) return undefined;
  const given = [...args, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  const sized = given.some((a) => a.startsWith('--max-semi-space-size'));
  const extra = AGENT_NODE_ARGS.filter((a) => !given.includes(a));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  // Dropped on a Node without it: said once, here, not again by the process re-executed.
  if (unlean && out.EDGE_AGENT_LEAN === '1') out.EDGE_AGENT_LEAN = '0';
  return {
    env: { ...out, ...Object.fromEntries(missing) },
    execArgv: [...(sized ? [] : AGENT_V8_FLAGS), ...extra, ...(lean ? AGENT_LEAN_NODE_ARGS : []), ...args],
  };
}

function leanUnavailable(): string {
  return (
    `edge-agent: the lean runtime is not available on Node.js ${process.version} (its node:http needs ` +
    'WebAssembly, which --lite-mode removes; Node.js 20 and 24 have it, docs/memory.md "The lean runtime")'
  );
}

/**
 * Replaces this process with itself under the agent's memory settings when they are missing and
 * Node has `process.execve` (same pid, so systemd's main-pid and sd_notify are unaffected). Call it
 * first thing, before modules with native threads load. On older Node it does nothing. The lean
 * runtime asked for where it cannot be had is said on stderr; `--lite-mode` on the command line of a
 * Node without it (22) is dropped by re-executing, or refused with exit code 78 where Node cannot.
 */
export function reexecWithMemoryEnv(): void {
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: object) => never })
    .execve;
  const noReexec = process.env.EDGE_AGENT_NO_REEXEC === '1';
  const plan = typeof execve === 'function' ? memoryReexec(process.env, process.execArgv) : undefined;
  if (plan && execve) {
    if (isLean() && !leanSupported()) process.stderr.write(`${leanUnavailable()}; restarting without it\n`);
    execve(process.execPath, [process.execPath, ...plan.execArgv, ...process.argv.slice(1)], plan.env);
    return;
  }
  // This process runs as it is: say what was asked for and is not happening.
  if (!leanSupported()) {
    if (process.env.EDGE_AGENT_LEAN === '1' || isLean()) {
      process.stderr.write(`${leanUnavailable()}; running with the JIT\n`);
    }
    if (isLean()) {
      // Still lean here (no process.execve, or re-execution turned off): it would die at start.
      process.stderr.write("edge-agent: remove --lite-mode / --jitless from node's command line\n");
      process.exit(78); // EX_CONFIG
    }
    return;
  }
  if (typeof execve !== 'function' && !noReexec && leanWanted(process.env, process.execArgv)) {
    process.stderr.write(
      `edge-agent: EDGE_AGENT_LEAN=1 needs Node.js 24 to restart itself lean (this is ${process.version}); ` +
        `running with the JIT. Put ${AGENT_LEAN_NODE_ARGS.join(' ')} on node's command line instead ` +
        '(docs/memory.md, "The lean runtime").\n',
    );
  }
}
