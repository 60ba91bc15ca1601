import type * as z from '../../zod.js';
import { DerivationError } from '../errors.js';
import { cleanMethod } from './clean.js';
import { fp16Method } from './fp16.js';
import { inputUint8Method } from './input-uint8.js';
import { int8StaticMethod } from './int8-static.js';
import { int8WeightsMethod } from './int8-weights.js';
import { lowrankMethod } from './lowrank.js';
import type { DerivationMethod } from './method.js';
import { parseParams } from './params.js';
import { pruneMethod } from './prune.js';

/** Every derivation method, in the order help texts list them. A new method is one file plus one line here. */
const REGISTRY = [
  cleanMethod,
  int8StaticMethod,
  int8WeightsMethod,
  fp16Method,
  pruneMethod,
  lowrankMethod,
  inputUint8Method,
] as const;

type Registered = (typeof REGISTRY)[number];
export type Method = Registered['id'];
/** Validated, defaults-filled parameters per method. */
export type MethodParams = { [M in Registered as M['id']]: z.output<M['params']> };
export type AnyParams = MethodParams[Method];

export const METHODS: readonly Method[] = REGISTRY.map((m) => m.id);

const BY_ID = new Map<string, DerivationMethod>(
  REGISTRY.map((m) => [m.id, m as unknown as DerivationMethod]),
);

export function isMethod(name: string): name is Method {
  return BY_ID.has(name);
}

export function parseMethod(name: string): Method {
  if (!isMethod(name))
    throw new DerivationError(`unknown method "${name}" (available: ${METHODS.join(', ')})`);
  return name;
}

/** The registered method (its params schema, tag and apply). */
export function methodFor(method: Method): DerivationMethod {
  return BY_ID.get(parseMethod(method))!;
}

/** Validates parameters and fills defaults: the same parameters always name the same variant. */
export function normalizeParams<M extends Method>(
  method: M,
  raw: Record<string, unknown> = {},
): MethodParams[M] {
  return parseParams(method, methodFor(method).params, raw) as MethodParams[M];
}

/**
 * The variant id: `<source>_<tag>`, the tag naming the method and its key parameters
 * (e.g. `fp32_int8s-pct99.999-f0.9`, `rfb-320_clean`, `fp32_prune-s0.25`).
 */
export function variantTag(method: Method, params: AnyParams): string {
  return methodFor(method).tag(params);
}

export function variantIdFor(sourceId: string, method: Method, params: AnyParams): string {
  const id = `${sourceId}_${variantTag(method, params)}`;
  if (id.length > 64)
    throw new DerivationError(`variant id "${id}" is longer than 64 characters; pass an explicit id`);
  return id;
}
