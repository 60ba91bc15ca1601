import { beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/log.js';
import type { Pacing } from '../../../src/pipeline/pacing.js';
import { type FrameResult, Pipeline, type PipelineDeps } from '../../../src/pipeline/pipeline.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { FakeTimePreparer, fakeModel, memorySource, TimeDriver } from './fakes.js';

// Everything runs on a fake clock: sources, models and pacing sleep in its time, and the driver
// moves it from one deadline to the next — no real sleeps, the same schedule on a busy machine.
let clock: FakeClock;
let time: TimeDriver;

function pipelineWith(
  deps: Partial<PipelineDeps> & Pick<PipelineDeps, 'source' | 'model'>,
  options: { prepareCostMs?: number } = {},
) {
  const preparer = new FakeTimePreparer(clock, options.prepareCostMs);
  time = new TimeDriver(clock, () => preparer.inFlight > 0);
  const pipeline = new Pipeline({
    pacing: { mode: 'continuous' },
    maxFrameAgeMs: 1000,
    log: silentLogger(),
    clock,
    stopwatch: () => clock.now(),
    preparer,
    ...deps,
  });
  const results: FrameResult[] = [];
  pipeline.onResult((r) => results.push(r));
  return { pipeline, results };
}

const elapse = (ms: number) => time.run(ms);
const stop = (pipeline: Pipeline) => time.until(pipeline.stop());

describe('Pipeline', () => {
  beforeEach(() => {
    clock = new FakeClock();
  });

  it('newest frame wins: a slow model drops frames (counted) instead of queueing them; memory stays flat', async () => {
    // 640x480 frames at 200 fps (~180 MB/s of pixels) into a model that needs 40 ms per frame.
    const source = memorySource({ fps: 200, width: 640, height: 480, clock });
    const { pipeline, results } = pipelineWith({ source, model: fakeModel('slow', 40, { clock }) });
    pipeline.start();
    await elapse(800);
    const rssEarly = process.memoryUsage().rss;
    await elapse(2000);
    const rssLate = process.memoryUsage().rss;
    await stop(pipeline);
    const s = pipeline.stats();
    expect(s.counters.processed).toBe(results.length);
    expect(results.length).toBeGreaterThan(10);
    expect(s.counters.dropped).toBeGreaterThan(s.counters.processed);
    expect(s.counters.captured).toBe(source.delivered);
    // Every frame is either inferred, replaced by a newer one, or was in hand at shutdown.
    const accounted =
      s.counters.processed + s.counters.dropped + s.counters.skipped + s.counters.stale + s.counters.failed;
    expect(s.counters.captured - accounted).toBeLessThanOrEqual(3);
    // Results come in capture order and skip the frames that went stale meanwhile.
    const seqs = results.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs[seqs.length - 1]! - seqs[0]!).toBeGreaterThan(seqs.length * 2);
    // A queue would hold ~360 MB more after two seconds; the slot holds one frame.
    expect(rssLate - rssEarly).toBeLessThan(120 * 1024 * 1024);
    expect(s.state).toBe('stopped');
  });

  it('release: each output is handed back once, after its frame is decoded (results unchanged)', async () => {
    const source = memorySource({ fps: 1000, count: 12, live: false, clock });
    const released: ArrayBufferView[] = [];
    const decodedBefore: number[] = [];
    const { pipeline, results } = pipelineWith({
      source,
      model: fakeModel('m', 5, { clock }),
      release: (view) => {
        decodedBefore.push(results.length);
        released.push(view);
      },
    });
    pipeline.start();
    await time.until(pipeline.finished());
    expect(results).toHaveLength(12);
    expect(released).toHaveLength(12); // one output per frame, each its own
    expect(new Set(released).size).toBe(12);
    // Handed back before the result is emitted, yet after decoding: every result has its classes.
    expect(decodedBefore).toEqual([...Array(12).keys()]);
    for (const r of results) expect(r.classes?.[0]?.label).toBe('cat');
  });

  it('release: capture frames dropped without a result are handed back at once, never one with a result', async () => {
    const frameBytes = 64 * 48 * 3;
    const run = async (source: ReturnType<typeof memorySource>, maxFrameAgeMs = 1000) => {
      const released: ArrayBufferView[] = [];
      const { pipeline } = pipelineWith({
        source,
        model: fakeModel('slow', 40, { clock }),
        maxFrameAgeMs,
        release: (view) => {
          if (view.byteLength === frameBytes) released.push(view); // frames, not the model's outputs
        },
      });
      const inferred = new Set<ArrayBufferView>();
      pipeline.onFrame((_r, frame) => inferred.add(frame.data));
      pipeline.start();
      await elapse(1000);
      await stop(pipeline);
      return { released, inferred, counters: pipeline.stats().counters };
    };

    // A camera at 200 fps into a model at 25: most frames are replaced in the slot or dropped for a
    // newer one after preparation; each is handed back once, and none that got a result.
    const fast = await run(memorySource({ fps: 200, clock, owns: true }));
    const c = fast.counters;
    const withoutResult = c.dropped + c.skipped + c.stale;
    expect(c.dropped).toBeGreaterThan(c.processed);
    expect(fast.released.length).toBeGreaterThanOrEqual(withoutResult);
    // At most one more: a frame prepared ahead that shutdown let go of (not counted as dropped).
    expect(fast.released.length).toBeLessThanOrEqual(withoutResult + 1);
    expect(new Set(fast.released).size).toBe(fast.released.length);
    for (const view of fast.released) expect(fast.inferred.has(view)).toBe(false);
    expect(fast.inferred.size).toBe(c.processed);

    // A camera whose frames arrive too old: every one is stale, none inferred, all handed back.
    clock = new FakeClock();
    const old = await run(memorySource({ fps: 50, clock, owns: true, ageMs: 2000 }));
    expect(old.counters.processed).toBe(0);
    expect(old.counters.stale).toBeGreaterThan(10);
    expect(old.released.length).toBe(old.counters.stale);

    // Frames a source may hand out again (stills, synthetic) are never released.
    clock = new FakeClock();
    const shared = await run(memorySource({ fps: 200, clock }));
    expect(shared.counters.dropped).toBeGreaterThan(10);
    expect(shared.released).toEqual([]);
  });

  it('a non-live source (a file as fast as possible) loses nothing: the pipeline sets the pace', async () => {
    const source = memorySource({ fps: 1000, count: 40, live: false, clock });
    const model = fakeModel('m', 10, { clock });
    const { pipeline, results } = pipelineWith({ source, model, maxFrameAgeMs: 1 });
    pipeline.start();
    const s = (await time.until(pipeline.finished()))!;
    expect(results.map((r) => r.seq)).toEqual([...Array(40).keys()]);
    // Two frames are handed to the model at a time, so it never waits for the event loop.
    expect(model.maxInFlight).toBe(2);
    expect(s.counters).toMatchObject({ captured: 40, processed: 40, dropped: 0, skipped: 0, stale: 0 });
  });

  it('prepares the next frame while the model runs (overlap), but not when paced by fps', async () => {
    // Preparing a frame costs 5 ms, more than a tenth of the 20 ms inference (a big frame's
    // resize), so the frame prepared during inference is used as is.
    const overlapped = pipelineWith(
      { source: memorySource({ fps: 200, clock }), model: fakeModel('a', 20, { clock }) },
      { prepareCostMs: 5 },
    );
    overlapped.pipeline.start();
    await elapse(1500);
    await stop(overlapped.pipeline);
    const r = overlapped.results.slice(2);
    expect(r.length).toBeGreaterThan(5);
    const preparedAhead = r.slice(1).filter((x, i) => x.capturedAtMs < r[i]!.completedAtMs).length;
    expect(preparedAhead / (r.length - 1)).toBeGreaterThan(0.8);

    clock = new FakeClock();
    const paced = pipelineWith({
      source: memorySource({ fps: 200, width: 320, height: 240, clock }),
      model: fakeModel('b', 20, { clock }),
      pacing: { mode: 'continuous', fps: 10 },
    });
    paced.pipeline.start();
    await elapse(1200);
    await stop(paced.pipeline);
    const p = paced.results;
    expect(p.length).toBeGreaterThanOrEqual(5);
    expect(p.length).toBeLessThanOrEqual(14);
    expect(p.slice(1).every((x, i) => x.capturedAtMs >= p[i]!.completedAtMs)).toBe(true);
    expect(paced.pipeline.stats().counters.skipped).toBeGreaterThan(100);
  });

  it('swaps the model while running: the frame in flight finishes on the old one, which is then disposed', async () => {
    const source = memorySource({ fps: 100, clock });
    const old = fakeModel('old', 60, { clock });
    const next = fakeModel('new', 5, { clock });
    const { pipeline, results } = pipelineWith({ source, model: old });
    pipeline.start();
    await elapse(300);
    while (old.inFlight === 0) await elapse(1);
    const swapping = pipeline.setModel(next);
    expect(old.disposed).toBe(0); // still running a frame
    await time.until(swapping);
    expect(old.inFlight).toBe(0);
    expect(old.disposed).toBe(1);
    await elapse(200);
    await stop(pipeline);
    const variants = results.map((r) => r.variant);
    const firstNew = variants.indexOf('new');
    expect(firstNew).toBeGreaterThan(0);
    expect(variants.slice(firstNew).every((v) => v === 'new')).toBe(true);
    expect(pipeline.stats().counters.failed).toBe(0); // nothing ran on a disposed model
    expect(pipeline.stats().model.variant).toBe('new');
    expect(next.disposed).toBe(0);
  });

  it('keeps a model alive for withModel users during a swap', async () => {
    const old = fakeModel('old', 5, { clock });
    const { pipeline } = pipelineWith({ source: memorySource({ fps: 50, clock }), model: old });
    pipeline.start();
    let release!: () => void;
    const using = pipeline.withModel((m) => new Promise<string>((r) => (release = () => r(m.variant.id))));
    await elapse(20);
    const swapping = pipeline.setModel(fakeModel('new', 5, { clock }));
    await elapse(50);
    expect(old.disposed).toBe(0);
    release();
    expect(await using).toBe('old');
    await time.until(swapping);
    expect(old.disposed).toBe(1);
    await stop(pipeline);
  });

  it('switches pacing at run time: fps limit, then back to as fast as possible', async () => {
    const { pipeline, results } = pipelineWith({
      source: memorySource({ fps: 200, clock }),
      model: fakeModel('m', 2, { clock }),
      pacing: { mode: 'continuous', fps: 4 },
    });
    pipeline.start();
    await elapse(1000);
    const slow = results.length;
    pipeline.setPacing({ mode: 'continuous' });
    await elapse(1000);
    await stop(pipeline);
    const fast = results.length - slow;
    expect(slow).toBeLessThanOrEqual(7);
    expect(fast).toBeGreaterThan(slow * 3);
    expect(pipeline.stats().pacing.description).toBe('continuous, as fast as possible');
  });

  it('duty cycle: one frame per interval, the camera started for each and released in between', async () => {
    const source = memorySource({ fps: 30, clock });
    const pacing: Pacing = { mode: 'duty-cycle', intervalS: 60, releaseCamera: true, warmupFrames: 3 };
    const { pipeline, results } = pipelineWith({ source, model: fakeModel('m', 1, { clock }), pacing });
    pipeline.start();
    await time.until(() => results.length >= 4);
    await stop(pipeline);
    // One camera start per shot (plus the shot under way when stopped).
    expect(source.starts - results.length).toBeGreaterThanOrEqual(0);
    expect(source.starts - results.length).toBeLessThanOrEqual(1);
    // Each shot skips the warm-up frames, then takes one.
    expect(pipeline.stats().counters.skipped).toBeGreaterThanOrEqual(3 * results.length);
    const gaps = results.slice(1).map((r, i) => r.capturedAtMs - results[i]!.capturedAtMs);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(60_000);
  });

  it('never infers frames older than the age limit', async () => {
    const { pipeline, results } = pipelineWith({
      source: memorySource({ fps: 100, ageMs: 5000, clock }),
      model: fakeModel('m', 1, { clock }),
      maxFrameAgeMs: 1000,
    });
    pipeline.start();
    await elapse(400);
    await stop(pipeline);
    expect(results).toEqual([]);
    expect(pipeline.stats().counters.stale).toBeGreaterThan(10);
  });

  it('a throwing listener does not stop the others or the pipeline; failed frames are counted', async () => {
    const { pipeline, results } = pipelineWith({
      source: memorySource({ fps: 100, clock }),
      model: fakeModel('m', 2, { failEvery: 3, clock }),
    });
    pipeline.onResult(() => {
      throw new Error('listener bug');
    });
    const after: number[] = [];
    pipeline.onResult((r) => after.push(r.seq));
    pipeline.start();
    await elapse(500);
    await stop(pipeline);
    expect(results.length).toBeGreaterThan(5);
    expect(after).toEqual(results.map((r) => r.seq));
    const s = pipeline.stats();
    expect(s.counters.failed).toBeGreaterThan(0);
    expect(s.lastError).toMatch(/device lost/);
  });

  it('ends when the source ends, and fails when the source fails', async () => {
    const { pipeline, results } = pipelineWith({
      source: memorySource({ fps: 200, count: 5, clock }),
      model: fakeModel('m', 1, { clock }),
    });
    pipeline.start();
    const stats = (await time.until(pipeline.finished()))!;
    expect(stats.state).toBe('stopped');
    expect(results.length).toBeGreaterThanOrEqual(1);
    expect(results.length).toBeLessThanOrEqual(5);

    const failing = pipelineWith({
      source: memorySource({ fps: 200, count: 2, failWith: new Error('camera unplugged'), clock }),
      model: fakeModel('m', 1, { clock }),
    });
    failing.pipeline.start();
    await expect(time.until(failing.pipeline.finished())).rejects.toThrow('camera unplugged');
    expect(failing.pipeline.stats().state).toBe('failed');
  });

  it('reports per-stage timings, fps and results with the frame time and variant', async () => {
    const { pipeline, results } = pipelineWith({
      source: memorySource({ fps: 50, clock }),
      model: fakeModel('v7', 5, { clock }),
    });
    pipeline.start();
    await elapse(700);
    const s = pipeline.stats();
    await stop(pipeline);
    expect(s.fps).toBeGreaterThan(10);
    expect(s.captureFps).toBeGreaterThan(10);
    expect(s.latency.inferenceMs.p50Ms).toBeGreaterThanOrEqual(4);
    expect(s.latency.preprocessMs.count).toBe(s.latency.inferenceMs.count);
    expect(s.preparePath).toBe('sharp');
    const r = results[0]!;
    expect(r).toMatchObject({
      model: 'fake',
      variant: 'v7',
      task: 'classification',
      origin: 'memory',
      imageWidth: 64,
      imageHeight: 48,
    });
    expect(r.classes?.[0]).toMatchObject({ label: 'cat', classId: 0 });
    expect(r.completedAtMs).toBeGreaterThanOrEqual(r.capturedAtMs);
    expect(r.timings.totalMs).toBeGreaterThanOrEqual(r.timings.inferenceMs - 1);
  });
});
