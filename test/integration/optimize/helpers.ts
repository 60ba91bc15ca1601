import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll } from 'vitest';
import { decodeImage } from '../../../src/image/decode.js';
import type { RawImage } from '../../../src/image/types.js';
import { loadCatalog } from '../../../src/models/catalog.js';
import { decodeModel } from '../../../src/optimize/onnx/onnx-io.js';

export const root = path.resolve(import.meta.dirname, '../../..');
export const modelsDir = path.join(root, 'models');
export const cocoDir = path.join(root, 'test/fixtures/images/coco_val2017');
export const vocDir = path.join(root, 'test/fixtures/images/voc');
export const samplesDir = path.join(root, 'samples');

const tempDirs: string[] = [];
// Registered while the importing test file is collected: runs after that file's tests.
afterAll(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh data directory, removed after the test file. */
export function tempDataDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'edge-agent-optimize-'));
  tempDirs.push(dir);
  return dir;
}

export async function catalogWith(dataDir: string) {
  return loadCatalog({ modelsDir, dataDir });
}

/** The first `n` images of a folder, decoded (in-memory calibration frames, like the camera's). */
export async function framesFrom(dir: string, n: number): Promise<{ images: RawImage[]; names: string[] }> {
  const names = readdirSync(dir)
    .filter((f) => /\.(jpe?g|png)$/i.test(f))
    .sort()
    .slice(0, n);
  const images = [];
  for (const name of names) images.push(await decodeImage(path.join(dir, name)));
  return { images, names };
}

export function opsOf(bytes: Uint8Array): Record<string, number> {
  const ops: Record<string, number> = {};
  for (const n of decodeModel(bytes).graph!.node ?? []) ops[n.opType ?? ''] = (ops[n.opType ?? ''] ?? 0) + 1;
  return ops;
}

export function initializerTypes(bytes: Uint8Array): Set<number> {
  return new Set((decodeModel(bytes).graph!.initializer ?? []).map((t) => t.dataType ?? 0));
}

/** Runs a model once on the given input and returns its outputs by name. */
export async function runOnce(
  bytes: Uint8Array,
  name: string,
  tensor: ort.Tensor,
): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await session.run({ [name]: tensor });
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await session.release();
  }
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}
