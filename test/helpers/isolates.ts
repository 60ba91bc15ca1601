import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO } from './paths.js';

/** The preload that makes every isolate of a process beat (node --require ISOLATE_PROBE). */
export const ISOLATE_PROBE = path.join(REPO, 'test', 'helpers', 'isolate-probe.cjs');

export type IsolateKind = 'main' | 'worker' | 'loader';
type Beat = { beats: number; kind: IsolateKind; data: string };

/** An isolate alive: its kind and what started it (its workerData's keys). */
export type Isolate = { kind: IsolateKind; data: string };

function beats(dir: string, pid: number): Map<string, Beat> {
  const out = new Map<string, Beat>();
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${pid}-`) || name.endsWith('.tmp')) continue;
    out.set(
      name.slice(String(pid).length + 1),
      JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as Beat,
    );
  }
  return out;
}

/**
 * The V8 isolates alive in `pid` (started with ISOLATE_PROBE writing to `dir`),
 * sorted: those whose beat moved while the main thread beat `mainBeats` more times. An isolate
 * busy for longer than that (a long synchronous call) would be missed: the callers' steady states
 * have none.
 */
export async function isolatesAlive(dir: string, pid: number, mainBeats = 20): Promise<Isolate[]> {
  const before = beats(dir, pid);
  const mainBefore = before.get('0')?.beats ?? 0;
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = beats(dir, pid);
    if ((now.get('0')?.beats ?? 0) - mainBefore < mainBeats) continue;
    return [...now]
      .filter(([id, b]) => b.beats !== before.get(id)?.beats)
      .map(([, b]) => ({ kind: b.kind, data: b.data }))
      .sort((a, b) => a.kind.localeCompare(b.kind));
  }
}
