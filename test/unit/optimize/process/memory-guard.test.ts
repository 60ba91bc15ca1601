import { describe, expect, it } from 'vitest';
import { DerivationError } from '../../../../src/optimize/errors.js';
import { groupByBytes } from '../../../../src/optimize/onnx/runtime.js';
import {
  checkDerivationMemory,
  estimateDerivationMB,
  MemoryWatch,
  parseMemAvailableMB,
} from '../../../../src/optimize/process/memory-guard.js';

describe('derivation memory guard', () => {
  it('groups exposed tensors by bytes, in order; an oversized tensor is a group of its own', () => {
    const sizes: Record<string, number> = { a: 4, b: 4, c: 10, d: 1, e: 1, f: 3 };
    expect(groupByBytes(Object.keys(sizes), (n) => sizes[n], 8)).toEqual([
      ['a', 'b'],
      ['c'],
      ['d', 'e', 'f'],
    ]);
    // Unknown sizes count as the largest known one (here a's 4).
    expect(groupByBytes(['a', 'x', 'd'], (n) => sizes[n], 8)).toEqual([['a', 'x'], ['d']]);
    expect(groupByBytes([], () => 1, 8)).toEqual([]);
  });

  it('estimates more for a bigger model, a bigger input and for calibration', () => {
    const base = {
      method: 'int8-static' as const,
      modelBytes: 3.6e6,
      inputBytes: 4 * 3 * 416 * 416,
      baselineMB: 60,
    };
    const yolox = estimateDerivationMB(base);
    expect(yolox).toBeGreaterThan(150);
    expect(yolox).toBeLessThan(400);
    expect(estimateDerivationMB({ ...base, modelBytes: 40e6 })).toBeGreaterThan(yolox);
    expect(estimateDerivationMB({ ...base, inputBytes: 4 * 3 * 640 * 640 })).toBeGreaterThan(yolox);
    expect(estimateDerivationMB({ ...base, method: 'fp16' })).toBeLessThan(yolox);
  });

  it('refuses with what it needs and what to do, against the limit and against MemAvailable', () => {
    expect(() => checkDerivationMemory('yolox-nano/fp32 int8-static', 300, { maxMemoryMB: 256 })).toThrow(
      /needs about 300 MB, more than the allowed 256 MB \(--max-memory-mb\); raise the limit/,
    );
    expect(() => checkDerivationMemory('m', 300, { availableMB: 200 })).toThrow(
      /device has 200 MB available/,
    );
    expect(() => checkDerivationMemory('m', 300, { maxMemoryMB: 512, availableMB: 1000 })).not.toThrow();
    expect(() => checkDerivationMemory('m', 300, {})).not.toThrow();
  });

  it('reads MemAvailable from /proc/meminfo text', () => {
    const text = 'MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:     524288 kB\n';
    expect(parseMemAvailableMB(text)).toBe(512);
    expect(parseMemAvailableMB('MemTotal: 1 kB\n')).toBeUndefined();
  });

  it('the watch aborts with a DerivationError once RSS passes the limit, and records the peak', () => {
    let rss = 100 * 2 ** 20;
    const controller = new AbortController();
    const watch = new MemoryWatch(256, controller, () => rss);
    watch.sample();
    expect(controller.signal.aborted).toBe(false);
    rss = 300 * 2 ** 20;
    watch.sample();
    expect(controller.signal.aborted).toBe(true);
    expect(controller.signal.reason).toBeInstanceOf(DerivationError);
    expect(String(controller.signal.reason.message)).toMatch(/reached 300 MB, over the allowed 256 MB/);
    expect(watch.peakMB).toBe(300);
  });
});
