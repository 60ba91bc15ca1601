import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { sessionOptionsFor } from '../../../src/inference/session.js';
import { MODELS } from '../../helpers/paths.js';

// Sessions on the CPU run without onnxruntime's memory pattern (less memory held; docs/memory.md,
// eighth round). That must not change a single output byte: the same input through a session with
// the agent's options and one with the pattern on gives the same bytes, on every run.
const cases = [
  ['ultraface', 'ultraface_version-slim-320.onnx'],
  ['squeezenet1.1', 'squeezenet1.1_fp16.onnx'],
  ['yolox-nano', 'yolox_nano.onnx'],
] as const;

/** Deterministic pseudo-random input in [0, 1) of the model's input shape. */
function input(session: ort.InferenceSession): Record<string, ort.Tensor> {
  const meta = session.inputMetadata[0]!;
  // All three take float32 (the fp16 squeezenet casts inside).
  if (!meta.isTensor || meta.type !== 'float32') throw new Error('a float32 tensor input expected');
  const dims = meta.shape.map((d) => (typeof d === 'number' ? d : 1));
  const size = dims.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  let s = 12345;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    values[i] = (s % 4096) / 4096;
  }
  return { [session.inputNames[0]!]: new ort.Tensor('float32', values, dims) };
}

function bytes(outputs: ort.InferenceSession.ReturnType): Buffer[] {
  return Object.keys(outputs)
    .sort()
    .map((k) => {
      const d = outputs[k]!.data as ArrayBufferView;
      return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
    });
}

describe('the CPU session options', () => {
  it('leave the memory pattern off on the CPU only (other providers keep the default)', () => {
    expect(sessionOptionsFor('cpu', { threads: 2 }).enableMemPattern).toBe(false);
    expect(sessionOptionsFor('cuda', { threads: 2 }).enableMemPattern).toBeUndefined();
    expect(sessionOptionsFor('cpu', { memoryArena: false }).enableCpuMemArena).toBe(false);
  });

  it.each(cases)(
    '%s: outputs identical with the memory pattern on and off, run after run',
    async (dir, file) => {
      const model = path.join(MODELS, dir, file);
      const agent = await ort.InferenceSession.create(model, sessionOptionsFor('cpu', { threads: 2 }));
      const withPattern = await ort.InferenceSession.create(model, {
        ...sessionOptionsFor('cpu', { threads: 2 }),
        enableMemPattern: true,
      });
      try {
        const feeds = input(agent);
        // Three runs each: the pattern is planned after the first run and used from the second.
        for (let run = 0; run < 3; run++) {
          const a = bytes(await agent.run(feeds));
          const b = bytes(await withPattern.run(feeds));
          expect(a.length).toBeGreaterThan(0);
          for (const [i, buf] of a.entries())
            expect(buf.equals(b[i]!), `${dir} run ${run} output ${i}`).toBe(true);
        }
      } finally {
        await agent.release();
        await withPattern.release();
      }
    },
  );
});
