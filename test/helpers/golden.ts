import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES } from './paths.js';

export interface GoldenDetection {
  cls: number | string;
  score: number;
  box: [number, number, number, number];
}

export interface GoldenModel {
  kind: 'yolox' | 'ultraface' | 'cls-imagenet';
  input: number[];
  results: Record<string, GoldenDetection[] | string[]>;
}

/** The shared reference outputs (copied from the assets; made with sharp's default resize). */
export function readGolden(): Record<string, GoldenModel> {
  return JSON.parse(readFileSync(path.join(FIXTURES, 'reference/golden_outputs.json'), 'utf8'));
}

/** Golden file name → catalog model and variant. */
export const GOLDEN_VARIANTS: Record<string, { model: string; variant: string }> = {
  'yolox_nano.onnx': { model: 'yolox-nano', variant: 'fp32' },
  'ultraface_version-RFB-320.onnx': { model: 'ultraface', variant: 'rfb-320' },
  'ultraface_version-slim-320.onnx': { model: 'ultraface', variant: 'slim-320' },
  'ultraface_version-RFB-640.onnx': { model: 'ultraface', variant: 'rfb-640' },
  'squeezenet1.1.onnx': { model: 'squeezenet1.1', variant: 'fp32' },
  'squeezenet1.1_fp16.onnx': { model: 'squeezenet1.1', variant: 'fp16' },
};

/** "967:espresso 0.919" → { classId: 967, score: 0.919 } */
export function parseGoldenClass(text: string): { classId: number; score: number } {
  const m = /^(\d+):.* ([\d.]+)$/.exec(text);
  if (!m) throw new Error(`unexpected golden class entry: ${text}`);
  return { classId: Number(m[1]), score: Number(m[2]) };
}

export function boxIou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.min(a[2]!, b[2]!) - Math.max(a[0]!, b[0]!);
  const iy = Math.min(a[3]!, b[3]!) - Math.max(a[1]!, b[1]!);
  if (ix <= 0 || iy <= 0) return 0;
  const inter = ix * iy;
  const area = (r: readonly number[]) => (r[2]! - r[0]!) * (r[3]! - r[1]!);
  return inter / (area(a) + area(b) - inter);
}
