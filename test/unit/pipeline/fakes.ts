import { SourceMonitor } from '../../../src/camera/monitor.js';
import { linkSignals } from '../../../src/camera/signals.js';
import type { Frame, FrameSource } from '../../../src/camera/types.js';
import { type Clock, isAbortError, systemClock } from '../../../src/clock.js';
import type { InferenceResult } from '../../../src/inference/types.js';
import type { InputSpec } from '../../../src/models/manifest.js';
import type { PipelineModel } from '../../../src/pipeline/pipeline.js';
import { type PreparedInput, TensorPreparer } from '../../../src/pipeline/prepare.js';
import type { FakeClock } from '../../helpers/fake-clock.js';

export interface MemorySourceOptions {
  fps: number;
  width?: number;
  height?: number;
  /** Frames per iteration; endless when absent. */
  count?: number;
  /** Capture timestamps this much in the past (a camera delivering old frames). */
  ageMs?: number;
  /** Thrown after `count` frames instead of ending. */
  failWith?: Error;
  clock?: Clock;
  /** False: a file-like source the pipeline must not drop frames from. */
  live?: boolean;
  /** Frames marked as their buffer's only holder (`Frame.ownsBuffer`), as a capture pipe's are. */
  owns?: boolean;
}

/** An in-memory camera: frames at a rate, each a fresh buffer; counts how often capture started. */
export function memorySource(o: MemorySourceOptions): FrameSource & { starts: number; delivered: number } {
  const clock = o.clock ?? systemClock;
  const width = o.width ?? 64;
  const height = o.height ?? 48;
  const monitor = new SourceMonitor('memory', clock);
  let seq = 0;
  const source = {
    description: 'memory',
    live: o.live ?? true,
    starts: 0,
    delivered: 0,
    status: () => monitor.status(),
    onStateChange: (l: Parameters<FrameSource['onStateChange']>[0]) => monitor.onStateChange(l),
    setTarget: () => false,
    [Symbol.asyncIterator]() {
      return source.frames()[Symbol.asyncIterator]();
    },
    async *frames(stop?: AbortSignal): AsyncGenerator<Frame> {
      source.starts++;
      const linked = linkSignals(stop);
      monitor.setState('online', 'memory');
      try {
        for (let n = 0; o.count === undefined || n < o.count; n++) {
          await clock.sleep(1000 / o.fps, linked.signal);
          const data = new Uint8Array(width * height * 3).fill(seq % 256);
          source.delivered++;
          monitor.frame(clock.now(), width, height);
          yield {
            data,
            width,
            height,
            channels: 3,
            timestampMs: clock.now() - (o.ageMs ?? 0),
            seq: seq++,
            origin: 'memory',
            ...(o.owns ? { ownsBuffer: true as const } : {}),
          };
        }
        if (o.failWith) throw o.failWith;
      } catch (err) {
        if (!isAbortError(err)) throw err;
      } finally {
        linked.dispose();
        monitor.setState('stopped', 'end');
      }
    },
  };
  return source;
}

export const TINY_INPUT: InputSpec = {
  name: 'x',
  layout: 'NCHW',
  dtype: 'float32',
  width: 16,
  height: 16,
  colorOrder: 'RGB',
  resize: { mode: 'stretch' },
  normalize: { scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] },
};

export interface FakeModel extends PipelineModel {
  runs: Array<{ startedAt: number; endedAt: number }>;
  disposed: number;
  inFlight: number;
  maxInFlight: number;
}

/**
 * A classifier that takes `delayMs` per run (a slow device) and can be told to fail. With a
 * `clock`, a run takes that long in the clock's time.
 */
export function fakeModel(
  variant: string,
  delayMs: number,
  options: { failEvery?: number; input?: InputSpec; clock?: Clock } = {},
): FakeModel {
  const clock = options.clock;
  const now = () => (clock ? clock.now() : performance.now());
  let calls = 0;
  const model: FakeModel = {
    name: 'fake',
    variant: { id: variant },
    task: 'classification',
    input: options.input ?? TINY_INPUT,
    decoder: { type: 'softmax', output: 'out', topK: 2, applySoftmax: true },
    labels: ['cat', 'dog', 'bird'],
    executionProvider: 'cpu',
    runs: [],
    disposed: 0,
    inFlight: 0,
    maxInFlight: 0,
    async run() {
      if (model.disposed > 0) throw new Error(`model ${variant} used after dispose`);
      const startedAt = now();
      model.inFlight++;
      model.maxInFlight = Math.max(model.maxInFlight, model.inFlight);
      calls++;
      if (clock) await clock.sleep(delayMs);
      else await new Promise((r) => setTimeout(r, delayMs));
      model.inFlight--;
      model.runs.push({ startedAt, endedAt: now() });
      if (options.failEvery && calls % options.failEvery === 0) throw new Error('device lost');
      return { out: { data: Float32Array.of(2, 1, 0), dims: [1, 3] } };
    },
    async inferEncoded(): Promise<InferenceResult> {
      throw new Error('not used');
    },
    async dispose() {
      model.disposed++;
    },
  };
  return model;
}

/** A clock whose sleeps pass instantly in virtual time (duty cycles of minutes in milliseconds). */
export function virtualClock(start = 1_000_000): Clock & { advance(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    advance(ms: number) {
      now += ms;
    },
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        if (signal?.aborted) return reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
        setImmediate(() => {
          if (signal?.aborted) return reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
          now += Math.max(0, ms);
          resolve();
        });
      }),
  };
}

/**
 * The real preparer, timed by the fake clock, that can be made to cost `costMs` of it (a big
 * frame's resize on a slow device). Counts the real (sharp) work under way so time only moves
 * once it is done.
 */
export class FakeTimePreparer extends TensorPreparer {
  inFlight = 0;

  constructor(
    private readonly clock: FakeClock,
    private readonly costMs = 0,
  ) {
    super(() => clock.now());
  }

  override async prepare(frame: Frame, spec: InputSpec): Promise<PreparedInput> {
    const started = this.clock.now();
    if (this.costMs > 0) await this.clock.sleep(this.costMs);
    this.inFlight++;
    try {
      const input = await super.prepare(frame, spec);
      input.preprocessMs = this.clock.now() - started;
      return input;
    } finally {
      this.inFlight--;
    }
  }
}

const turn = () => new Promise((r) => setImmediate(r));

/**
 * Moves a fake clock from one pending deadline to the next (discrete-event time: nothing real
 * is slept), letting real work (`busy`) and the woken tasks settle in between.
 */
export class TimeDriver {
  constructor(
    readonly clock: FakeClock,
    private readonly busy: () => boolean = () => false,
  ) {}

  /** One event: false when no sleep is pending before `limit`. */
  private async step(limit: number): Promise<boolean> {
    for (let i = 0; i < 3 || this.busy(); i++) await turn();
    const next = this.clock.nextDeadline;
    if (next === undefined || next > limit) return false;
    await this.clock.advance(Math.max(0, next - this.clock.now()));
    return true;
  }

  /** Lets `ms` of fake time pass. */
  async run(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    while (await this.step(end));
    if (this.clock.now() < end) await this.clock.advance(end - this.clock.now());
  }

  /** Moves time until `until` settles (a promise) or holds (a predicate); throws when nothing is pending any more. */
  async until<T>(until: Promise<T> | (() => boolean), limitMs = 3_600_000): Promise<T | undefined> {
    let settled = false;
    const promise = typeof until === 'function' ? undefined : until;
    promise?.then(
      () => (settled = true),
      () => (settled = true),
    );
    const done = () => (promise ? settled : (until as () => boolean)());
    const limit = this.clock.now() + limitMs;
    while (!done()) {
      if (!(await this.step(limit))) {
        for (let i = 0; i < 3; i++) await turn();
        if (!done()) throw new Error(`stalled at fake time ${this.clock.now()}: nothing pending`);
      }
    }
    return promise ? await promise : undefined;
  }
}
