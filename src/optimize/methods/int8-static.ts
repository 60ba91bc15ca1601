import * as z from '../../zod.js';
import { defineMethod, fmt } from './method.js';
import { booleanParam, enumParam, numberParam } from './params.js';

const DEFAULT_FLOOR = 0.9;

/** Fidelity floor: a number in [0, 1], or null / "none" for no floor (nothing kept in float). */
const floor = z.preprocess(
  (v) =>
    v === undefined
      ? DEFAULT_FLOOR
      : v === null || v === 'none'
        ? null
        : typeof v === 'string' && Number.isFinite(Number(v))
          ? Number(v)
          : v,
  z.nullable(
    z
      .number({ error: (iss) => `must be a number in [0, 1], got ${JSON.stringify(iss.input)}` })
      .check(z.minimum(0), z.maximum(1)),
  ),
);

export const int8StaticMethod = defineMethod({
  id: 'int8-static',
  summary: 'int8 QDQ with calibration on camera frames; layers that cost fidelity stay float',
  params: z.strictObject({
    ranges: enumParam(['minmax', 'percentile', 'entropy'], 'percentile'),
    percentile: numberParam(99.999, 90, 100),
    reduceRange: booleanParam(true),
    activations: enumParam(['uint8', 'int8'], 'uint8'),
    floor,
    frames: z.pipe(numberParam(32, 1, 10_000), z.transform(Math.round)),
  }),
  tag: (p) => {
    const r = p.ranges === 'percentile' ? `pct${fmt(p.percentile)}` : p.ranges;
    return `int8s-${r}${p.activations === 'int8' ? '-s8' : ''}${p.reduceRange ? '' : '-8bit'}${p.floor === null ? '' : `-f${fmt(p.floor)}`}`;
  },
  apply: async (graph, p, ctx) => {
    const { evaluator, sourceSpec, signal, onProgress } = ctx;
    // Implementations load on first use (the agent imports the registry at start; docs/memory.md).
    const [
      { loadFrames, prepareInputs },
      { probeTensors },
      { quantizeStatic },
      { foldBatchNorms },
      { upgradeOpset },
    ] = await Promise.all([
      import('../evaluation/frames.js'),
      import('../onnx/runtime.js'),
      import('../quantize/quantize-static.js'),
      import('../transforms/fold.js'),
      import('../transforms/opset.js'),
    ]);
    const probe = await probeTensors(graph);
    upgradeOpset(graph, 13, (t) => probe.shapes.get(t)?.length);
    const foldedBatchNorms = foldBatchNorms(graph);
    // The evaluation frames are the calibration frames unless told otherwise: decode them once.
    const same = !ctx.evaluation && (ctx.evaluationLimit ?? 32) === p.frames;
    const calib = same
      ? { images: [...evaluator.set.images], description: evaluator.framesDescription }
      : await loadFrames(ctx.calibration, { limit: p.frames, signal, onProgress });
    // Same frames: the evaluator's preprocessed inputs, not a second copy.
    const calibration = same
      ? await evaluator.inputsFor(sourceSpec)
      : await prepareInputs(calib.images, sourceSpec);
    const result = await quantizeStatic(
      {
        model: graph,
        inputName: sourceSpec.name,
        calibration,
        evaluate: (bytes) => evaluator.fidelityOf(bytes, sourceSpec),
        threads: ctx.threads,
        tensorBytes: (t) => {
          const shape = probe.shapes.get(t);
          return shape ? 4 * shape.reduce((a, b) => a * b, 1) : undefined;
        },
        signal,
        onProgress,
      },
      {
        ranges: p.ranges,
        percentile: p.percentile,
        reduceRange: p.reduceRange,
        activations: p.activations,
        ...(p.floor === null ? {} : { floor: p.floor }),
      },
    );
    return {
      model: result.model,
      precision: result.keptFloat.length > 0 ? 'mixed' : 'int8',
      recordedParams: { ...p, calibrationFrames: calib.images.length, keptFloat: result.keptFloat },
      details: {
        foldedBatchNorms,
        qdq: result.report,
        keptFloat: result.keptFloat,
        steps: result.steps,
        calibration: calib.description,
        ...(result.sensitivity ? { mostSensitive: result.sensitivity.slice(0, 10) } : {}),
      },
    };
  },
});
