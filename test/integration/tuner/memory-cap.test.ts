import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../../src/models/catalog.js';
import { MeasurementError, MeasureProcess } from '../../../src/tuner/measure-process.js';
import { MODELS } from '../../helpers/paths.js';
import { addHugeVariant, squeezenetModels, type TunerRig, tunerRig } from './helpers.js';

const rigs: TunerRig[] = [];
afterEach(async () => {
  for (const r of rigs.splice(0)) await r.close();
});

describe('the memory cap of the measuring children', () => {
  it('a variant that needs 1 GiB is stopped inside its child and recorded as not fitting (with the reason); the tune completes, and a restart does not measure it again', async () => {
    const models = squeezenetModels({ fp16: false });
    addHugeVariant(models);
    const policy = {
      latencyP95Ms: 60_000,
      tuning: { rounds: 1, runsPerRound: 2, warmupRuns: 1, maxThreads: 1, childMemoryMB: 200 },
    };
    const rig = await tunerRig(models, { policy });
    rigs.push(rig);
    const d = await rig.tuner.tune({ model: 'squeezenet1.1', derive: 'never' });
    const huge = d.candidates.find((c) => c.variant === 'huge')!;
    expect(huge.status).toBe('failed');
    expect(huge.memoryExceeded).toBe(true);
    expect(huge.memoryCapBytes).toBe(200 * 1048576);
    expect(huge.verdict).toBe('violates');
    expect(huge.reason).toMatch(/^does not fit: its session needs more than the 200 MB/);
    expect(huge.error).toMatch(/memory cap|allocate/i);
    // The model that fits is measured and chosen as usual.
    const fp32 = d.candidates.find((c) => c.variant === 'fp32')!;
    expect(fp32.status).toBe('ok');
    expect(fp32.memoryBytes!).toBeLessThan(200 * 1048576);
    expect(d.chosen?.variant).toBe('fp32');
    expect(d.met).toBe(true);

    // Known not to fit under this cap: a restart reads it from the cache, spawning nothing.
    const spawned: number[] = [];
    const again = await tunerRig(models, {
      dataDir: rig.dataDir,
      policy,
      deps: {
        spawn: (o) => {
          const p = MeasureProcess.spawn(o);
          spawned.push(p.pid ?? 0);
          return p;
        },
      },
    });
    rigs.push(again);
    const second = await again.tuner.tune({ model: 'squeezenet1.1', derive: 'never' });
    expect(spawned).toEqual([]);
    expect(second.candidates.find((c) => c.variant === 'huge')).toMatchObject({
      verdict: 'violates',
      cached: true,
    });
  }, 180_000);

  it('memory that grows below the data limit is caught by the resident-memory watch: the child is killed, the error says so', async () => {
    const catalog = await loadCatalog({ modelsDir: MODELS });
    const { variant } = catalog.variant('squeezenet1.1', 'fp32');
    // 1 MB for the session: squeezenet's ~60 MB of weights and arena pass it, far below RLIMIT_DATA.
    const child = MeasureProcess.spawn({ memoryCapBytes: 1048576 });
    try {
      const err = await child
        .open(
          {
            path: variant.path,
            sha256: variant.sha256,
            bytes: variant.bytes,
            inputName: 'data',
            input: { data: new Float32Array(3 * 224 * 224), dims: [1, 3, 224, 224] },
            executionProvider: 'cpu',
            threads: 1,
            graphOptimization: 'all',
            warmupRuns: 2,
          },
          120_000,
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(MeasurementError);
      expect((err as MeasurementError).memoryExceeded).toBe(true);
      expect((err as Error).message).toMatch(/resident memory reached \d+ MB, over its cap of \d+ MB/);
      expect(path.basename(variant.path)).toBe('squeezenet1.1.onnx');
    } finally {
      child.kill();
    }
  }, 120_000);
});
