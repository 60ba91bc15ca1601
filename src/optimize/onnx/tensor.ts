import { OnnxFormatError } from '../errors.js';
import { DataType, proto, type TensorProto, toNum } from './onnx-io.js';

export function dimsOf(t: TensorProto): number[] {
  return (t.dims ?? []).map((d) => toNum(d));
}

export function elementCount(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** rawData is a view into the decoded file: read it through its byteOffset, little-endian. */
function rawView(t: TensorProto): DataView | undefined {
  const raw = t.rawData;
  if (!raw || raw.length === 0) return undefined;
  return new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
}

/** The values of a float32 / float16 / double tensor as float32. */
export function readFloats(t: TensorProto): Float32Array {
  const n = elementCount(dimsOf(t));
  const view = rawView(t);
  const out = new Float32Array(n);
  switch (t.dataType) {
    case DataType.FLOAT:
      if (view) for (let i = 0; i < n; i++) out[i] = view.getFloat32(4 * i, true);
      else out.set(t.floatData ?? []);
      return out;
    case DataType.DOUBLE:
      if (view) for (let i = 0; i < n; i++) out[i] = view.getFloat64(8 * i, true);
      else out.set(t.doubleData ?? []);
      return out;
    case DataType.FLOAT16: {
      // float16 without rawData is stored bit-wise in int32Data.
      for (let i = 0; i < n; i++)
        out[i] = halfToFloat(view ? view.getUint16(2 * i, true) : (t.int32Data?.[i] ?? 0));
      return out;
    }
    default:
      throw new OnnxFormatError(`tensor "${t.name}": data type ${t.dataType} is not a float type`);
  }
}

/** The values of an integer tensor (int8/uint8/int32/int64/bool) as numbers. */
export function readInts(t: TensorProto): number[] {
  const n = elementCount(dimsOf(t));
  const view = rawView(t);
  const out: number[] = new Array(n);
  for (let i = 0; i < n; i++) {
    switch (t.dataType) {
      case DataType.INT64:
        out[i] = view ? Number(view.getBigInt64(8 * i, true)) : toNum(t.int64Data?.[i]);
        break;
      case DataType.INT32:
        out[i] = view ? view.getInt32(4 * i, true) : (t.int32Data?.[i] ?? 0);
        break;
      case DataType.INT8:
        out[i] = view ? view.getInt8(i) : (t.int32Data?.[i] ?? 0);
        break;
      case DataType.UINT8:
      case DataType.BOOL:
        out[i] = view ? view.getUint8(i) : (t.int32Data?.[i] ?? 0);
        break;
      default:
        throw new OnnxFormatError(`tensor "${t.name}": data type ${t.dataType} is not an integer type`);
    }
  }
  return out;
}

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(4 * values.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(4 * i, values[i]!, true);
  return proto.TensorProto.create({ name, dims: [...dims], dataType: DataType.FLOAT, rawData: raw });
}

export function float16Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(2 * values.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setUint16(2 * i, floatToHalf(values[i]!), true);
  return proto.TensorProto.create({ name, dims: [...dims], dataType: DataType.FLOAT16, rawData: raw });
}

export function int8Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(values.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setInt8(i, values[i]!);
  return proto.TensorProto.create({ name, dims: [...dims], dataType: DataType.INT8, rawData: raw });
}

export function uint8Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  return proto.TensorProto.create({
    name,
    dims: [...dims],
    dataType: DataType.UINT8,
    rawData: Uint8Array.from(values),
  });
}

export function int32Tensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorProto {
  const raw = new Uint8Array(4 * values.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) view.setInt32(4 * i, values[i]!, true);
  return proto.TensorProto.create({ name, dims: [...dims], dataType: DataType.INT32, rawData: raw });
}

/** int64 values; pass bigints for values beyond 2^53 (Slice's INT64_MAX "to the end"). */
export function int64Tensor(
  name: string,
  dims: readonly number[],
  values: ArrayLike<number | bigint>,
): TensorProto {
  const raw = new Uint8Array(8 * values.length);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    view.setBigInt64(8 * i, typeof v === 'bigint' ? v : BigInt(Math.trunc(v)), true);
  }
  return proto.TensorProto.create({ name, dims: [...dims], dataType: DataType.INT64, rawData: raw });
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 from a number, round to nearest even; overflow saturates to ±Inf. */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
