import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import { parseConfig } from '../../../src/config/index.js';
import { WorkerModel } from '../../../src/inference/worker-model.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { RemotePipeline } from '../../../src/pipeline/remote/remote-pipeline.js';
import { pipelineBurstGate } from '../../../src/tuner/burst.js';
import { MODELS, REPO } from '../../helpers/paths.js';
import { waitUntil } from '../../helpers/wait.js';

describe("burst logs of the pipeline in a worker (the agent's pipeline)", () => {
  it('pause and resume are logged at debug in both threads; an ordinary pacing change stays at info', async () => {
    const lines: Array<{ level: number; msg: string; component?: string }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const log = pino({ level: 'debug' }, sink);
    const catalog = await loadCatalog({ modelsDir: MODELS });
    const model = await WorkerModel.load({ catalog, model: 'squeezenet1.1', session: { threads: 1 } });
    const remote = new RemotePipeline({
      camera: parseConfig({ camera: { source: `images:${REPO}/samples`, fps: 10 } }).camera,
      model,
      pacing: { mode: 'continuous', fps: 10 },
      maxFrameAgeMs: 1000,
      log,
    });
    try {
      remote.start();
      const { gate } = pipelineBurstGate(remote, { clock: systemClock, gapMs: 0, settleMs: 200 });
      for (let i = 0; i < 2; i++) await gate(async () => undefined);
      remote.setPacing({ mode: 'continuous', fps: 5 }); // set-fps
      const pacing = () => lines.filter((l) => l.msg === 'pacing changed');
      // 2 bursts × (pause + resume) + set-fps, in this thread and again in the worker's.
      await waitUntil(
        () => pacing().length >= 10,
        30_000,
        () => `pacing lines: ${JSON.stringify(pacing())}`,
      );
      const levels = pacing().map((l) => l.level);
      expect(levels.filter((l) => l === 30)).toHaveLength(2); // set-fps, once per thread
      expect(levels.filter((l) => l === 20)).toHaveLength(8);
    } finally {
      await remote.stop();
      await model.dispose();
    }
  }, 60_000);
});
