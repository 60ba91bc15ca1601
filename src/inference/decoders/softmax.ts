/** Numerically stable softmax. */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(logits[i]! - max);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / sum;
  return out;
}

/** Indices of the k largest values, largest first (ties keep the lower index first). */
export function topK(values: ArrayLike<number>, k: number): number[] {
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    if (idx.length < k) {
      idx.push(i);
      idx.sort((p, q) => values[q]! - values[p]! || p - q);
    } else if (values[i]! > values[idx[k - 1]!]!) {
      idx[k - 1] = i;
      idx.sort((p, q) => values[q]! - values[p]! || p - q);
    }
  }
  return idx;
}
