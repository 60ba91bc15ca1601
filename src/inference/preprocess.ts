import { resizeForPlan } from '../image/decode.js';
import { planResize, type ResizePlan } from '../image/geometry.js';
import type { InverseTransform, RawImage } from '../image/types.js';
import type { InputSpec } from '../models/manifest.js';

export interface ModelInput {
  data: Float32Array | Uint8Array;
  dims: [number, number, number, number];
  inverse: InverseTransform;
}

/**
 * Writes the copied region (RGB, HWC, cropWidth × cropHeight) into a model input tensor: channel
 * order, layout, normalisation and letterbox padding in one pass. Pure; `out` may be reused.
 */
export function fillTensor(
  pixels: Uint8Array,
  plan: ResizePlan,
  spec: Pick<InputSpec, 'width' | 'height' | 'layout' | 'dtype' | 'colorOrder' | 'normalize'>,
  out?: Float32Array | Uint8Array,
): Float32Array | Uint8Array {
  const W = spec.width;
  const H = spec.height;
  const plane = W * H;
  const isFloat = spec.dtype === 'float32';
  const tensor = out ?? (isFloat ? new Float32Array(3 * plane) : new Uint8Array(3 * plane));
  // Tensor channel c reads source channel src[c] (RGB input; BGR models swap 0 and 2).
  const src = spec.colorOrder === 'BGR' ? [2, 1, 0] : [0, 1, 2];
  const { scale, mean, std } = spec.normalize;
  const a = isFloat ? [scale / std[0], scale / std[1], scale / std[2]] : [1, 1, 1];
  const b = isFloat ? [-mean[0] / std[0], -mean[1] / std[1], -mean[2] / std[2]] : [0, 0, 0];
  const nchw = spec.layout === 'NCHW';

  if (plan.padValue !== undefined) {
    for (let c = 0; c < 3; c++) {
      const v = plan.padValue * a[c]! + b[c]!;
      if (nchw) tensor.fill(v, c * plane, (c + 1) * plane);
      else for (let i = c; i < tensor.length; i += 3) tensor[i] = v;
    }
  }
  const cw = plan.cropWidth;
  const ch = plan.cropHeight;
  const [s0, s1, s2] = src as [number, number, number];
  const [a0, a1, a2] = a as [number, number, number];
  const [b0, b1, b2] = b as [number, number, number];
  for (let y = 0; y < ch; y++) {
    const row = (plan.placeY + y) * W + plan.placeX;
    let p = y * cw * 3;
    if (nchw) {
      for (let x = 0; x < cw; x++, p += 3) {
        const i = row + x;
        tensor[i] = pixels[p + s0]! * a0 + b0;
        tensor[plane + i] = pixels[p + s1]! * a1 + b1;
        tensor[2 * plane + i] = pixels[p + s2]! * a2 + b2;
      }
    } else {
      for (let x = 0; x < cw; x++, p += 3) {
        const i = (row + x) * 3;
        tensor[i] = pixels[p + s0]! * a0 + b0;
        tensor[i + 1] = pixels[p + s1]! * a1 + b1;
        tensor[i + 2] = pixels[p + s2]! * a2 + b2;
      }
    }
  }
  return tensor;
}

/** Full preprocessing of one RGB image for a model input spec. */
export async function preprocess(
  image: RawImage,
  spec: InputSpec,
  out?: Float32Array | Uint8Array,
): Promise<ModelInput> {
  const plan = planResize(image.width, image.height, spec);
  const pixels = await resizeForPlan(image, plan);
  const data = fillTensor(pixels, plan, spec, out);
  const dims: ModelInput['dims'] =
    spec.layout === 'NCHW' ? [1, 3, spec.height, spec.width] : [1, spec.height, spec.width, 3];
  return { data, dims, inverse: plan.inverse };
}
