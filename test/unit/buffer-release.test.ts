import { describe, expect, it } from 'vitest';
import { BufferRelease } from '../../src/buffer-release.js';

const MB = 1024 * 1024;
const arrayBuffersMB = () => process.memoryUsage().arrayBuffers / MB;

describe('BufferRelease', () => {
  it('frees a whole buffer at once (no garbage collection needed) and leaves the view detached', async () => {
    const release = new BufferRelease();
    await release.ready;
    try {
      const views = Array.from({ length: 8 }, () => new Float32Array((8 * MB) / 4).fill(1));
      const before = arrayBuffersMB();
      for (const v of views) expect(release.release(v)).toBe(true);
      // Node counts ArrayBuffer memory as it is allocated and freed: 64 MB gone while every view is still referenced.
      expect(before - arrayBuffersMB()).toBeGreaterThan(60);
      for (const v of views) expect(v.byteLength).toBe(0);
    } finally {
      release.close();
    }
  });

  it('leaves alone a view over part of a buffer, an empty one, and everything after close', () => {
    const release = new BufferRelease();
    const shared = new Uint8Array(1 * MB);
    const part = shared.subarray(16, 1024);
    expect(release.release(part)).toBe(false);
    expect(release.release(shared.subarray(0, 1024))).toBe(false);
    expect(shared.byteLength).toBe(MB);
    expect(release.release(new Uint8Array(0))).toBe(false);
    // Small Buffers are slices of Node's shared pool: never released.
    const pooled = Buffer.from('a small buffer');
    expect(release.release(pooled)).toBe(false);
    expect(pooled.toString()).toBe('a small buffer');
    release.close();
    const later = new Uint8Array(1024);
    expect(release.release(later)).toBe(false);
    expect(later.byteLength).toBe(1024);
  });
});
