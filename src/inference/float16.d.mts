// Types of float16.mjs (plain JavaScript, shared with serve-session.mjs).

/** Converts float16 bit patterns to float32 values (subnormals, infinities and NaN included). */
export function float16ToFloat32(bits: Uint16Array): Float32Array;
