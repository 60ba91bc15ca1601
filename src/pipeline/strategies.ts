import type { LoopMode, PipelineCore } from './core.js';

/** Why a strategy returned: the source ended, or the pacing now asks for another mode (or shutdown). */
export type LoopExit = 'ended' | 'changed';

/** One loop mode: runs turns while the core's mode is its own. */
export type LoopStrategy = (core: PipelineCore, signal: AbortSignal) => Promise<LoopExit>;

const runs = (core: PipelineCore, signal: AbortSignal, mode: LoopMode) =>
  !signal.aborted && core.mode === mode;

/**
 * Files read as fast as possible: two frames are handed to the model at a time, so the next run
 * starts in the worker the moment the previous ends, without waiting for the event loop to decode
 * and emit. Nothing is dropped or aged out: the pipeline sets the pace.
 */
const queued: LoopStrategy = async (core, signal) => {
  const inflight: Array<Promise<void>> = [];
  try {
    while (runs(core, signal, 'queued')) {
      const take = await core.take(signal);
      if ('ended' in take) return 'ended';
      if ('interrupted' in take) continue;
      const input = await core.prepareCurrent(take.frame);
      if (!input) continue;
      inflight.push(core.infer(input));
      if (inflight.length >= 2) await inflight.shift();
    }
    return 'changed';
  } finally {
    await Promise.all(inflight);
  }
};

/**
 * A live camera as fast as the model goes: one run at a time (a queued frame would be older),
 * the next frame taken and prepared while onnxruntime works.
 */
const overlapped: LoopStrategy = async (core, signal) => {
  while (runs(core, signal, 'overlapped')) {
    const input = await core.nextInput(() => core.take(signal));
    if (input === 'ended') return 'ended';
    if (!input || core.discardIfStale(input)) continue;
    // The pacing may have changed while the frame was prepared: then nothing is prepared ahead.
    await core.infer(input, core.mode === 'overlapped' ? signal : undefined);
  }
  return 'changed';
};

/** An fps limit or a short duty cycle: the camera keeps running, the newest frame at each due time. */
const paced: LoopStrategy = async (core, signal) => {
  while (runs(core, signal, 'paced')) {
    if (!(await core.waitUntilDue(signal))) continue;
    const input = await core.nextInput(() => core.take(signal));
    if (input === 'ended') return 'ended';
    if (!input || core.discardIfStale(input)) continue;
    await core.infer(input);
  }
  return 'changed';
};

/** A long duty cycle: at each due time the camera starts, warms up, gives one frame and stops. */
const shots: LoopStrategy = async (core, signal) => {
  while (runs(core, signal, 'shots')) {
    if (!(await core.waitUntilDue(signal))) continue;
    const input = await core.nextInput(() => core.captureOne(signal));
    if (input === 'ended') return 'ended';
    if (!input || core.discardIfStale(input)) continue;
    await core.infer(input);
  }
  return 'changed';
};

export const STRATEGIES: Record<LoopMode, LoopStrategy> = { queued, overlapped, paced, shots };
