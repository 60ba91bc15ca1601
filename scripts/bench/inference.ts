import path from 'node:path';
import { decodeImage } from '../../src/image/decode.js';
import { InferenceModel } from '../../src/inference/model.js';
import { postprocess } from '../../src/inference/postprocess.js';
import { preprocess } from '../../src/inference/preprocess.js';
import { loadCatalog } from '../../src/models/catalog.js';
import { packageRoot } from '../../src/paths.js';
import { markdownTable, percentile, round } from './stats.js';

export interface InferenceBenchOptions {
  /** Timed session.run calls per variant per round. */
  runs?: number;
  /** Rounds over all variants; variants alternate between rounds to cancel the machine's drift. */
  rounds?: number;
  threads?: number;
  log?: (line: string) => void;
}

/** Which photo each model is measured on (a typical input for its task). */
const IMAGE_FOR: Record<string, string> = {
  'yolox-nano': 'samples/000000086956.jpg',
  ultraface: 'samples/000000086956.jpg',
  'squeezenet1.1': 'samples/coffee.png',
};

/**
 * Per bundled variant: session creation time, median/p95 `session.run` latency and end-to-end
 * latency (preprocess + run + postprocess on a decoded photo). One session alive at a time
 * (idle onnxruntime threads spin and would slow a neighbour), rounds alternate the variants.
 */
export async function benchInference(options: InferenceBenchOptions = {}) {
  const runs = options.runs ?? 30;
  const rounds = options.rounds ?? 3;
  const threads = options.threads ?? 2;
  const log = options.log ?? (() => {});
  const root = packageRoot();
  const catalog = await loadCatalog({ modelsDir: path.join(root, 'models') });
  const variants = catalog
    .models()
    .flatMap((m) =>
      m.variants.filter((v) => !v.derived).map((v) => ({ model: m.manifest.name, variant: v })),
    );
  const samples = new Map(
    variants.map((v) => [
      `${v.model}/${v.variant.id}`,
      {
        createMs: [] as number[],
        runMs: [] as number[],
        endToEndMs: [] as number[],
        preMs: [] as number[],
        postMs: [] as number[],
      },
    ]),
  );
  const images = new Map<string, Awaited<ReturnType<typeof decodeImage>>>();
  for (const model of new Set(variants.map((v) => v.model)))
    images.set(model, await decodeImage(path.join(root, IMAGE_FOR[model]!)));

  for (let round_ = 0; round_ < rounds; round_++) {
    for (const { model: name, variant } of variants) {
      const key = `${name}/${variant.id}`;
      log(`round ${round_ + 1}/${rounds}: ${key}`);
      const s = samples.get(key)!;
      const t0 = performance.now();
      const model = await InferenceModel.load({
        catalog,
        model: name,
        variant: variant.id,
        session: { threads },
      });
      s.createMs.push(performance.now() - t0);
      const image = images.get(name)!;
      const input = await preprocess(image, model.input);
      for (let i = 0; i < 3; i++) await model.run(input); // warm-up
      for (let i = 0; i < runs; i++) {
        const a = performance.now();
        await model.run(input);
        s.runMs.push(performance.now() - a);
      }
      for (let i = 0; i < runs; i++) {
        const a = performance.now();
        const prepared = await preprocess(image, model.input);
        const b = performance.now();
        const outputs = await model.run(prepared);
        const c = performance.now();
        postprocess(model.decoder, outputs, model.input, prepared.inverse, model.labels);
        const d = performance.now();
        s.endToEndMs.push(d - a);
        s.preMs.push(b - a);
        s.postMs.push(d - c);
      }
      await model.dispose();
    }
  }

  const results = variants.map(({ model, variant }) => {
    const s = samples.get(`${model}/${variant.id}`)!;
    return {
      model,
      variant: variant.id,
      precision: variant.precision,
      fileBytes: variant.bytes,
      threads,
      sessionCreateMsMedian: round(percentile(s.createMs, 50)),
      runMsMedian: round(percentile(s.runMs, 50)),
      runMsP95: round(percentile(s.runMs, 95)),
      endToEndMsMedian: round(percentile(s.endToEndMs, 50)),
      endToEndMsP95: round(percentile(s.endToEndMs, 95)),
      preprocessMsMedian: round(percentile(s.preMs, 50)),
      postprocessMsMedian: round(percentile(s.postMs, 50)),
      samples: s.runMs.length,
    };
  });
  const markdown = markdownTable(
    [
      'model',
      'variant',
      'size MB',
      'session create ms',
      'run p50 ms',
      'run p95 ms',
      'infer p50 ms',
      'infer p95 ms',
      'pre p50 ms',
      'post p50 ms',
    ],
    results.map((r) => [
      r.model,
      r.variant,
      round(r.fileBytes / 1e6),
      r.sessionCreateMsMedian,
      r.runMsMedian,
      r.runMsP95,
      r.endToEndMsMedian,
      r.endToEndMsP95,
      r.preprocessMsMedian,
      r.postprocessMsMedian,
    ]),
  );
  return { json: { runs, rounds, threads, results }, markdown };
}
