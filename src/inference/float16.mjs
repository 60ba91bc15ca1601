// IEEE 754 half precision to single, for float16 model outputs. Plain JavaScript so that
// serve-session.mjs (loaded without tsx in the session threads) and model.ts share one copy.

/** Converts float16 bit patterns to float32 values (subnormals, infinities and NaN included). */
export function float16ToFloat32(bits) {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    out[i] =
      exp === 0
        ? sign * 2 ** -14 * (frac / 1024)
        : exp === 31
          ? frac
            ? Number.NaN
            : sign * Number.POSITIVE_INFINITY
          : sign * 2 ** (exp - 15) * (1 + frac / 1024);
  }
  return out;
}
