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
 * input (slim-320), whose per-pixel loop then runs in V8's interpreter. No WebAssembly: nothing in
 * the agent may use it, nor `fetch` (undici compiles its HTTP parser with it) — node:http is loaded as
 * CommonJS for that reason (src/node-http.ts; on Node 22 its ES module namespace loaded undici at
 * start and the agent died). Children (derivation, fidelity) keep the JIT: their node arguments are
 * their own; the tuner's measuring children run lean when the agent does.
 */
export const AGENT_LEAN_NODE_ARGS = ['--lite-mode'] as const;

const LEAN_FLAGS: readonly string[] = ['--lite-mode', '--jitless'];

/**
 * With the JIT on Node ≥ 24 (V8 13, Maglev on by default): Maglev is the top tier, TurboFan and
 * Turboshaft never run, so their machine code in the node binary is never paged in and their
 * compiles (graph zones of up to ~2 MB each, malloc'd) never happen — −3 to −5 MiB RSS with yolox-nano
 * and with slim-320, CPU per frame unchanged, also for the float model whose per-pixel loop is the
 * agent's hottest JavaScript (docs/memory.md, "Sixteenth round"). Not on Node 20 and 22, whose V8
 * has Maglev off: there `--no-turbofan` would leave the interpreter alone. Nor `--maglev` on Node 22,
 * though it measured −6 MiB there: Node turned Maglev off on 22 (V8 12.4) for crashes and wrong
 * results in its generated code, fixed upstream only in later V8s (nodejs/node#54384, #52797).
 * `--turbofan` on node's command line keeps TurboFan.
 */
export const AGENT_JIT_NODE_ARGS = ['--no-turbofan'] as const;

/** True when this Node version's V8 runs Maglev by default (from Node 24). */
const maglevByDefault = (nodeVersion: string) => Number(nodeVersion.split('.')[0]) >= 24;

/** The JIT's node arguments for this Node version (none before 24). */
export function jitNodeArgs(nodeVersion: string = process.versions.node): readonly string[] {
  return maglevByDefault(nodeVersion) ? AGENT_JIT_NODE_ARGS : [];
}

const TIER_FLAGS = ['--turbofan', '--no-turbofan', '--maglev', '--no-maglev'];

/**
 * The JIT's tier arguments for a child that should compile as this process does (the tuner's
 * measuring child): the ones on this process's command line (an operator's `--turbofan` is kept),
 * else this Node version's defaults.
 */
export function inheritedJitNodeArgs(
  execArgv: readonly string[] = process.execArgv,
  nodeVersion: string = process.versions.node,
): readonly string[] {
  const given = execArgv.filter((a) => TIER_FLAGS.includes(a));
  return given.length > 0 ? given : jitNodeArgs(nodeVersion);
}

/**
 * The top tier V8 compiles hot JavaScript to in this process, for the first log line: TurboFan
 * unless `--no-turbofan`, then Maglev where it is on (by default from Node 24, `--maglev` before),
 * else the interpreter.
 */
export function topTier(
  execArgv: readonly string[] = process.execArgv,
  nodeVersion: string = process.versions.node,
): 'interpreter' | 'maglev' | 'turbofan' {
  if (isLean(execArgv)) return 'interpreter';
  const last = (on: string) => execArgv.findLast((a) => a === on || a === `--no-${on.slice(2)}`);
  if (last('--turbofan') !== '--no-turbofan') return 'turbofan';
  const maglev = last('--maglev');
  return (maglev === undefined ? maglevByDefault(nodeVersion) : maglev === '--maglev')
    ? 'maglev'
    : 'interpreter';
}

/** True when this process runs without V8's optimising compilers. */
export function isLean(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((a) => LEAN_FLAGS.includes(a));
}

type Env = Readonly<Record<string, string | undefined>>;

/** `EDGE_AGENT_LEAN=1` asked for the lean runtime and this process does not run it yet. */
export function leanWanted(env: Env, execArgv: readonly string[]): boolean {
  return env.EDGE_AGENT_LEAN === '1' && !isLean(execArgv);
}

/**
 * Whether the agent's `run` on this machine serves on the lean runtime: this process is lean, or
 * `EDGE_AGENT_LEAN=1` asks for it and `run` can re-execute into it (`process.execve`, Node ≥ 22.15;
 * re-execution not turned off). The tuner measures under the same runtime (docs/tuner.md), also when
 * run as `edge-agent tune` beside the agent (the image sets `EDGE_AGENT_LEAN=1`).
 */
export function agentRunsLean(
  env: Env = process.env,
  execArgv: readonly string[] = process.execArgv,
  canReexec: boolean = typeof (process as unknown as { execve?: unknown }).execve === 'function',
): boolean {
  if (isLean(execArgv)) return true;
  return leanWanted(env, execArgv) && canReexec && env.EDGE_AGENT_NO_REEXEC !== '1';
}

/**
 * Pure: the arguments and environment to re-execute with, or undefined when the environment
 * already has every malloc setting (a value the operator set is kept), no lean runtime is asked
 * for that is not running and the JIT's arguments for this Node version are given, or re-execution
 * is turned off (`EDGE_AGENT_NO_REEXEC=1`). The V8 flags
 * are added unless NODE_OPTIONS or the node arguments already have them (a semi-space size of the
 * operator's is kept).
 */
export function memoryReexec(
  env: Env,
  execArgv: readonly string[],
  nodeVersion: string = process.versions.node,
): { env: Record<string, string>; execArgv: string[] } | undefined {
  if (env.EDGE_AGENT_NO_REEXEC === '1') return undefined;
  const missing = Object.entries(AGENT_MALLOC_ENV).filter(([key]) => env[key] === undefined);
  const lean = leanWanted(env, execArgv);
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  // The JIT's arguments unless the runtime is lean or the operator chose a tier (`--turbofan`).
  const jit =
    lean || isLean(execArgv) || given.includes('--turbofan')
      ? []
      : jitNodeArgs(nodeVersion).filter((a) => !given.includes(a));
  if (missing.length === 0 && !lean && jit.length === 0) return undefined;
  const sized = given.some((a) => a.startsWith('--max-semi-space-size'));
  const extra = [...AGENT_NODE_ARGS, ...jit].filter((a) => !given.includes(a));
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return {
    env: { ...out, ...Object.fromEntries(missing) },
    execArgv: [
      ...(sized ? [] : AGENT_V8_FLAGS),
      ...extra,
      ...(lean ? AGENT_LEAN_NODE_ARGS : []),
      ...execArgv,
    ],
  };
}

/**
 * Replaces this process with itself under the agent's memory settings when they are missing and
 * Node has `process.execve` (Node ≥ 22.15; same pid, so systemd's main-pid and sd_notify are
 * unaffected). Call it first thing, before modules with native threads load. On older Node it does
 * nothing, and says so on stderr when the lean runtime was asked for.
 */
export function reexecWithMemoryEnv(): void {
  const execve = (process as unknown as { execve?: (file: string, args: string[], env: object) => never })
    .execve;
  const plan = typeof execve === 'function' ? memoryReexec(process.env, process.execArgv) : undefined;
  if (plan && execve) {
    execve(process.execPath, [process.execPath, ...plan.execArgv, ...process.argv.slice(1)], plan.env);
    return;
  }
  // This process runs as it is: say what was asked for and is not happening.
  const noReexec = process.env.EDGE_AGENT_NO_REEXEC === '1';
  if (typeof execve !== 'function' && !noReexec && leanWanted(process.env, process.execArgv)) {
    process.stderr.write(
      `edge-agent: EDGE_AGENT_LEAN=1 needs Node.js 22.15 or newer to restart itself lean (this is ${process.version}); ` +
        `running with the JIT. Put ${AGENT_LEAN_NODE_ARGS.join(' ')} on node's command line instead ` +
        '(docs/memory.md, "The lean runtime").\n',
    );
  }
}
