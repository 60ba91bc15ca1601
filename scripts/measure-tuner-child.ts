// Memory of the tuner's measuring child before and after it opens a session (VmRSS, VmData from
// /proc): the figures the memory cap's constants rest on (src/tuner/child-memory.ts).
// Usage: npx tsx scripts/measure-tuner-child.ts
import { readFileSync } from 'node:fs';
import { loadCatalog } from '../src/models/catalog.js';
import { effectiveInputSpec } from '../src/models/manifest.js';
import { loadFrames, prepareInputs } from '../src/optimize/evaluation/frames.js';
import { MeasureProcess } from '../src/tuner/measure-process.js';

const vm = (pid: number) => {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Math.round(Number(new RegExp(`${k}:\\s+(\\d+)`).exec(s)?.[1] ?? 0) / 1024);
  return `RSS ${kb('VmRSS')} MB, data ${kb('VmData')} MB`;
};
const catalog = await loadCatalog({ modelsDir: 'models' });
const frames = await loadFrames(undefined, { limit: 1 });
for (const [model, id] of [
  ['squeezenet1.1', 'fp32'],
  ['yolox-nano', 'fp32'],
  ['ultraface', 'rfb-640'],
] as const) {
  const { model: entry, variant } = catalog.variant(model, id);
  const spec = effectiveInputSpec(entry.manifest.input, variant);
  const [input] = await prepareInputs(frames.images.slice(0, 1), spec);
  const child = MeasureProcess.spawn();
  await new Promise((r) => setTimeout(r, 1500)); // let it finish loading
  const before = vm(child.pid!);
  await child.open(
    {
      path: variant.path,
      sha256: variant.sha256,
      bytes: variant.bytes,
      inputName: spec.name,
      input: { data: input!.data, dims: [...input!.dims] },
      executionProvider: 'cpu',
      threads: 1,
      graphOptimization: 'all',
      warmupRuns: 2,
    },
    120_000,
  );
  await child.burst(3, 2000);
  console.log(`${model}/${id}: before the session ${before}; after ${vm(child.pid!)}`);
  child.kill();
}
