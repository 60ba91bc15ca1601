// Keeps a thread's V8 heap near what it holds live. The full collections the agent's isolates get
// are "reduce memory" ones — started by V8's memory reducer in a quiet spell, or by the frames' and
// outputs' external memory — and after such a collection V8 sets the next limit at least 8 MB past
// the live size (`--trace-gc-verbose`: "old size: 5289 KB, new limit: 14505 KB"), where its low-memory
// mode would step 2 MB. So an isolate holding 5 MB saws up to ~14 MB between collections, in each of
// the agent's two isolates (docs/memory.md, "Twelfth round"); no V8 flag moves that step
// (`--no-memory-reducer-favors-memory`, Node 24 only, changes the reducer's own collections and not
// the others'). The keeper looks once a second and runs a full collection when the heap has grown more
// than `headroomBytes` past the level the last collection left, at most once per `minIntervalMs`, and
// in the pipeline worker only between frames unless that waits longer than `maxDeferMs`.
import v8 from 'node:v8';
import vm from 'node:vm';
import { ConfigError } from '../errors.js';

export interface HeapKeeperOptions {
  /** Collect when the heap is this much above the level the last full collection left. */
  headroomBytes: number;
  /** No two forced collections closer than this. */
  minIntervalMs: number;
  /** Collect only when this says the thread is between two pieces of work (the pipeline worker). */
  idle?: () => boolean;
  /** Over the headroom and never idle for this long (a camera read at full speed): collect anyway. */
  maxDeferMs: number;
}

export interface HeapKeeperState {
  /** Heap used after the last full collection seen (ours, or V8's when the heap went lower). */
  floorBytes: number;
  lastCollectMs: number;
  /** Since when the heap has been over the headroom without a collection (undefined: it is not). */
  overSinceMs: number | undefined;
}

export const INITIAL_KEEPER_STATE: HeapKeeperState = {
  floorBytes: Number.POSITIVE_INFINITY,
  lastCollectMs: Number.NEGATIVE_INFINITY,
  overSinceMs: undefined,
};

/**
 * Pure: whether to collect now, given the heap in use and whether the thread is idle. A reading
 * below the floor lowers it (V8 collected on its own).
 */
export function keeperStep(
  state: HeapKeeperState,
  sample: { usedBytes: number; nowMs: number; idle: boolean },
  o: HeapKeeperOptions,
): { collect: boolean; state: HeapKeeperState } {
  const floorBytes = Math.min(state.floorBytes, sample.usedBytes);
  const over = sample.usedBytes > floorBytes + o.headroomBytes;
  if (!over) return { collect: false, state: { ...state, floorBytes, overSinceMs: undefined } };
  const overSinceMs = state.overSinceMs ?? sample.nowMs;
  const spaced = sample.nowMs - state.lastCollectMs >= o.minIntervalMs;
  const collect = spaced && (sample.idle || sample.nowMs - overSinceMs >= o.maxDeferMs);
  return { collect, state: { ...state, floorBytes, overSinceMs } };
}

/** V8's full collection, without `--expose-gc` on node's command line: a context made while the
 * flag is set has `gc`; the flag is cleared again so that later contexts (workers) do not. */
export function fullCollection(): () => void {
  const global = globalThis as { gc?: () => void };
  if (typeof global.gc === 'function') return global.gc;
  v8.setFlagsFromString('--expose-gc');
  try {
    return vm.runInNewContext('gc') as () => void;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

/** Heap in use, without the young generation (emptied by every scavenge, it is not what grows).
 * A full collection promotes the young generation's live objects, so this can be higher after one
 * than before it; the whole heap in use ({@link heapUsedBytes}) cannot. */
export function oldHeapUsedBytes(): number {
  let used = 0;
  for (const s of v8.getHeapSpaceStatistics())
    if (s.space_name !== 'new_space' && s.space_name !== 'new_large_object_space') used += s.space_used_size;
  return used;
}

/** The whole heap in use, young generation included: what a collection's log line reports. */
export function heapUsedBytes(): number {
  return v8.getHeapStatistics().used_heap_size;
}

export interface HeapKeeperStats {
  collections: number;
  lastPauseMs: number | undefined;
  maxPauseMs: number;
  floorBytes: number | undefined;
}

export interface HeapKeeper {
  stop(): void;
  stats(): HeapKeeperStats;
}

export interface HeapKeeperDeps {
  collect?: () => void;
  /** What the keeper compares with its floor (default: the old generation in use). */
  usedBytes?: () => number;
  /** What a collection reports as before and after (default: the whole heap in use). */
  heapBytes?: () => number;
  now?: () => number;
  checkMs?: number;
  onCollect?: (info: CollectionInfo) => void;
}

/** One forced collection: the whole heap in use before and after, the pause, and the new floor. */
export interface CollectionInfo {
  beforeBytes: number;
  afterBytes: number;
  pauseMs: number;
  /** The old generation in use after it: what the next headroom is measured from. */
  floorBytes: number;
}

/** A collection as log fields (MB, ms). */
export function collectionFields(c: CollectionInfo) {
  const mb = (b: number) => Math.round((b / 1024 / 1024) * 10) / 10;
  return {
    beforeMB: mb(c.beforeBytes),
    afterMB: mb(c.afterBytes),
    floorMB: mb(c.floorBytes),
    pauseMs: Math.round(c.pauseMs * 10) / 10,
  };
}

/** Starts looking every `checkMs` (1 s); the timer does not keep the thread alive. */
export function startHeapKeeper(o: HeapKeeperOptions, deps: HeapKeeperDeps = {}): HeapKeeper {
  const collect = deps.collect ?? fullCollection();
  const usedBytes = deps.usedBytes ?? oldHeapUsedBytes;
  const heapBytes = deps.heapBytes ?? heapUsedBytes;
  const now = deps.now ?? (() => performance.now());
  let state = INITIAL_KEEPER_STATE;
  const stats: HeapKeeperStats = {
    collections: 0,
    lastPauseMs: undefined,
    maxPauseMs: 0,
    floorBytes: undefined,
  };
  const timer = setInterval(() => {
    const step = keeperStep(state, { usedBytes: usedBytes(), nowMs: now(), idle: o.idle?.() ?? true }, o);
    state = step.state;
    if (!step.collect) return;
    const beforeBytes = heapBytes();
    const started = now();
    collect();
    const pauseMs = now() - started;
    const afterBytes = heapBytes();
    const floorBytes = usedBytes();
    state = { floorBytes, lastCollectMs: now(), overSinceMs: undefined };
    stats.collections++;
    stats.lastPauseMs = pauseMs;
    stats.maxPauseMs = Math.max(stats.maxPauseMs, pauseMs);
    deps.onCollect?.({ beforeBytes, afterBytes, pauseMs, floorBytes });
  }, deps.checkMs ?? 1000);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    stats: () => ({ ...stats, floorBytes: Number.isFinite(state.floorBytes) ? state.floorBytes : undefined }),
  };
}

/** The keeper's headroom in MB, `0` for none (V8's own schedule); read by `edge-agent run`. */
export const HEAP_HEADROOM_ENV = 'EDGE_AGENT_HEAP_HEADROOM_MB';
export const DEFAULT_HEAP_HEADROOM_MB = 2;

/** The keeper's settings from the environment; undefined when it is turned off. */
export function heapKeeperOptions(
  env: Readonly<Record<string, string | undefined>>,
): HeapKeeperOptions | undefined {
  const raw = env[HEAP_HEADROOM_ENV]?.trim();
  const mb = raw === undefined || raw === '' ? DEFAULT_HEAP_HEADROOM_MB : Number(raw);
  if (!Number.isFinite(mb) || mb < 0)
    throw new ConfigError(
      `${HEAP_HEADROOM_ENV}: expected a number of MB ≥ 0 (0 leaves collections to V8), got ${JSON.stringify(raw)}`,
    );
  if (mb === 0) return undefined;
  return { headroomBytes: mb * 1024 * 1024, minIntervalMs: 5000, maxDeferMs: 5000 };
}
