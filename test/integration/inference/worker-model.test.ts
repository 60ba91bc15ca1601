import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EdgeAgentError } from '../../../src/errors.js';
import { decodeImage } from '../../../src/image/decode.js';
import { InferenceModel } from '../../../src/inference/model.js';
import { preprocess } from '../../../src/inference/preprocess.js';
import { WorkerModel } from '../../../src/inference/worker-model.js';
import { type Catalog, loadCatalog } from '../../../src/models/catalog.js';
import { MODELS, REPO } from '../../helpers/paths.js';

const IMAGE = path.join(REPO, 'samples', '000000086956.jpg');

/** Whether a 5 ms timer fires before `run` resolves, i.e. the event loop was free meanwhile. */
async function timerFiresDuring(run: () => Promise<unknown>): Promise<boolean> {
  let fired = false;
  const timer = setTimeout(() => {
    fired = true;
  }, 5);
  await run();
  clearTimeout(timer);
  return fired;
}

describe('WorkerModel (onnxruntime session in a worker thread)', () => {
  let catalog: Catalog;
  let worker: WorkerModel;
  let local: InferenceModel;
  beforeAll(async () => {
    catalog = await loadCatalog({ modelsDir: MODELS });
    worker = await WorkerModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 } });
    local = await InferenceModel.load({ catalog, model: 'yolox-nano', session: { threads: 1 } });
  });
  afterAll(async () => {
    await worker?.dispose();
    await local?.dispose();
  });

  it('gives the same detections as the in-process session', async () => {
    const a = await worker.inferEncoded(IMAGE);
    const b = await local.inferEncoded(IMAGE);
    expect(a.detections).toEqual(b.detections);
    expect(a.detections!.length).toBeGreaterThan(0);
    expect([a.model, a.variant, a.imageWidth, a.imageHeight]).toEqual([
      b.model,
      b.variant,
      b.imageWidth,
      b.imageHeight,
    ]);
    expect(worker.executionProvider).toBe('cpu');
  });

  it('keeps the event loop free while inferring (the in-process session blocks it)', async () => {
    const input = await preprocess(await decodeImage(IMAGE), worker.input);
    let returned: Float32Array | Uint8Array | undefined;
    const free = await timerFiresDuring(() => worker.run(input, (d) => (returned = d)));
    expect(free).toBe(true);
    const copy = await preprocess(await decodeImage(IMAGE), local.input);
    expect(await timerFiresDuring(() => local.run(copy))).toBe(false);
    // The tensor travelled to the worker and came back intact for reuse.
    expect(input.data.byteLength).toBe(0);
    expect(returned?.length).toBe(3 * 416 * 416);
    expect(returned?.[5]).toBe(copy.data[5]);
  });

  it('without a recycle callback the caller keeps its buffer (a copy travels)', async () => {
    const input = await preprocess(await decodeImage(IMAGE), worker.input);
    const outputs = await worker.run(input);
    expect(input.data.length).toBe(3 * 416 * 416);
    expect(outputs.output?.dims).toEqual([1, 3549, 85]);
  });

  it('counts session.run time and the time the worker waited for work', async () => {
    const input = await preprocess(await decodeImage(IMAGE), worker.input);
    const before = worker.workerTimes();
    await worker.run(input);
    // The worker replies, then waits 80 ms for the next request: that wait is idle time.
    await new Promise((r) => setTimeout(r, 80));
    const afterPause = worker.workerTimes();
    await worker.run(input);
    const paused = worker.workerTimes();
    // Three requests queued at once: the worker takes each the moment it replies to the previous.
    await Promise.all([worker.run(input), worker.run(input), worker.run(input)]);
    const queued = worker.workerTimes();
    expect(paused.runs - before.runs).toBe(2);
    expect(queued.runs - paused.runs).toBe(3);
    expect(paused.idleMs - afterPause.idleMs).toBeGreaterThanOrEqual(75);
    expect(queued.runMs - paused.runMs).toBeGreaterThan(0);
    expect(queued.idleMs - paused.idleMs).toBeLessThan(paused.idleMs - afterPause.idleMs);
  });

  it('after dispose the worker is gone and runs fail with a clear error', async () => {
    const m = await WorkerModel.load({
      catalog,
      model: 'squeezenet1.1',
      variant: 'fp16',
      session: { threads: 1 },
    });
    const r = await m.inferEncoded(path.join(REPO, 'samples', 'coffee.png'));
    expect(r.classes?.[0]?.label).toBeTruthy();
    await m.dispose();
    await expect(m.run({ data: new Float32Array(3 * 224 * 224), dims: [1, 3, 224, 224] })).rejects.toThrow(
      EdgeAgentError,
    );
    await expect(m.inferEncoded(IMAGE)).rejects.toThrow(/disposed/);
  });
});
