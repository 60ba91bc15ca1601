import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../helpers/paths.js';

const MB = 1024 * 1024;

/** Old-generation bytes of a fresh worker isolate before and after the floor, measured inside it. */
function inWorker(floorMB: number): Promise<{ before: number; after: number; held: number }> {
  // The pipeline worker's own bootstrap (it registers tsx in the thread when the entry is TypeScript).
  const worker = new Worker(path.join(REPO, 'src/pipeline/remote/boot.mjs'), {
    workerData: {
      entry: pathToFileURL(path.join(REPO, 'test/helpers/marking-floor-probe.ts')).href,
      floorMB,
    },
  });
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe('holdMarkingFloor', () => {
  it("lifts a small isolate's old generation above V8's 8 MB incremental-marking threshold", async () => {
    const r = await inWorker(10);
    expect(r.before).toBeLessThan(8 * MB); // a fresh worker starts below it: the floor is what lifts it
    expect(r.after).toBeGreaterThanOrEqual(10 * MB - 256 * 1024);
    expect(r.after).toBeLessThan(12 * MB); // flat strings: no more than asked
    expect(r.held).toBeGreaterThan(0);
  });

  it('holds nothing when the isolate is already above the floor', async () => {
    const r = await inWorker(1);
    expect(r.held).toBe(0);
  });
});
