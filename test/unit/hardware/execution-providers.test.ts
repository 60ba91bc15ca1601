import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import {
  precheck,
  probeExecutionProviders,
  probeModelBytes,
} from '../../../src/hardware/execution-providers.js';

describe('execution provider probe', () => {
  it('hand-encodes a valid ONNX model that computes x + x', async () => {
    const session = await ort.InferenceSession.create(probeModelBytes(), { executionProviders: ['cpu'] });
    try {
      expect(session.inputNames).toEqual(['x']);
      const out = await session.run({
        x: new ort.Tensor('float32', Float32Array.from([0.5, -1, 3, 100]), [1, 4]),
      });
      expect(Array.from(out.y!.data as Float32Array)).toEqual([1, -2, 6, 200]);
    } finally {
      await session.release();
    }
  });

  it('finds CPU working and gives a reason for every other provider', async () => {
    const info = await probeExecutionProviders({ fresh: true });
    expect(info.available).toContain('cpu');
    expect(info.onnxruntimeVersion).toBe(ort.env.versions.node ?? ort.env.versions.common);
    const listed = ort.listSupportedBackends().map((b) => b.name);
    const all = [...info.available, ...info.rejected.map((r) => r.provider)];
    for (const name of new Set([...listed, 'cpu', 'cuda', 'tensorrt', 'webgpu'])) expect(all).toContain(name);
    for (const r of info.rejected) expect(r.reason.length).toBeGreaterThan(10);
    expect(new Set(all).size).toBe(all.length);
  });

  it('probes once per process unless asked again', async () => {
    const a = probeExecutionProviders();
    expect(probeExecutionProviders()).toBe(a);
    expect(probeExecutionProviders({ fresh: true })).not.toBe(a);
  });

  it('does not try providers whose libraries are plainly absent', () => {
    expect(precheck('cpu', true)).toBeUndefined();
    const cuda = precheck('cuda', false);
    // On a machine with the CUDA provider library installed there is nothing to pre-reject.
    if (cuda !== undefined) expect(cuda).toMatch(/libonnxruntime_providers_cuda\.so is not installed/);
  });
});
