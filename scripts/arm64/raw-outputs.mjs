// arm64-check: raw model outputs on a fixed input, the same on every architecture, so x86 and arm64
// kernels can be compared without JSON rounding or image decoding in between. For each bundled
// model's first variant: input = a deterministic pattern in the model's value range; writes
// OUT/<model>.json = {output name: [numbers]}. Usage: node raw-outputs.mjs APP_DIR OUT_DIR
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [app, out] = process.argv.slice(2);
const ort = createRequire(path.join(app, 'package.json'))('onnxruntime-node');
mkdirSync(out, { recursive: true });
for (const name of readdirSync(path.join(app, 'models'))) {
  if (name.endsWith('.json')) continue;
  const dir = path.join(app, 'models', name);
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const { width, height } = manifest.input;
  const data = new Float32Array(3 * width * height);
  // A smooth pattern plus an LCG's noise, normalised like an image would be (about -2..2).
  let seed = 12345;
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = Math.sin(i / 97) + (seed / 2147483648 - 0.5);
  }
  const session = await ort.InferenceSession.create(path.join(dir, manifest.variants[0].file), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
  });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, height, width]) };
  const results = await session.run(feeds);
  const json = Object.fromEntries(Object.entries(results).map(([k, t]) => [k, Array.from(t.data)]));
  writeFileSync(path.join(out, `${name}.json`), JSON.stringify(json));
  await session.release();
}
