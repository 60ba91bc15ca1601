import { DerivationError } from './errors.js';
import type { RangeMethod } from './quantize/ranges.js';
import { DEFAULT_FP16_BLOCK_LIST } from './transforms/fp16.js';

export const METHODS = [
  'clean',
  'int8-static',
  'int8-weights',
  'fp16',
  'prune',
  'lowrank',
  'input-uint8',
] as const;
export type Method = (typeof METHODS)[number];

export interface MethodParams {
  clean: Record<string, never>;
  'int8-static': {
    ranges: RangeMethod;
    percentile: number;
    reduceRange: boolean;
    activations: 'uint8' | 'int8';
    floor: number | null;
    frames: number;
  };
  'int8-weights': { reduceRange: boolean };
  fp16: { blockList: string[] };
  prune: { mode: 'unstructured' | 'structured'; sparsity: number };
  lowrank: { energy: number; maxParamRatio: number };
  'input-uint8': Record<string, never>;
}

export type AnyParams = MethodParams[Method];

export function isMethod(name: string): name is Method {
  return (METHODS as readonly string[]).includes(name);
}

export function parseMethod(name: string): Method {
  if (!isMethod(name))
    throw new DerivationError(`unknown method "${name}" (available: ${METHODS.join(', ')})`);
  return name;
}

type Raw = Record<string, unknown>;

function num(raw: Raw, key: string, fallback: number, min: number, max: number, method: string): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) {
    throw new DerivationError(
      `${method}: ${key} must be a number in [${min}, ${max}], got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

function bool(raw: Raw, key: string, fallback: boolean, method: string): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new DerivationError(`${method}: ${key} must be true or false, got ${JSON.stringify(v)}`);
}

function refuseUnknown(raw: Raw, allowed: readonly string[], method: string): void {
  const unknown = Object.keys(raw).filter((k) => raw[k] !== undefined && !allowed.includes(k));
  if (unknown.length > 0) {
    throw new DerivationError(
      `${method}: unknown parameter(s) ${unknown.join(', ')} (accepted: ${allowed.join(', ') || 'none'})`,
    );
  }
}

/** Validates parameters and fills defaults: the same parameters always name the same variant. */
export function normalizeParams<M extends Method>(method: M, raw: Raw = {}): MethodParams[M] {
  const out = ((): AnyParams => {
    switch (method) {
      case 'clean':
      case 'input-uint8':
        refuseUnknown(raw, [], method);
        return {};
      case 'int8-static': {
        refuseUnknown(raw, ['ranges', 'percentile', 'reduceRange', 'activations', 'floor', 'frames'], method);
        const activations = (raw.activations ?? 'uint8') as string;
        if (activations !== 'uint8' && activations !== 'int8') {
          throw new DerivationError(`int8-static: activations must be uint8 or int8, got "${activations}"`);
        }
        const ranges = (raw.ranges ?? 'percentile') as string;
        if (!['minmax', 'percentile', 'entropy'].includes(ranges)) {
          throw new DerivationError(
            `int8-static: ranges must be minmax, percentile or entropy, got "${ranges}"`,
          );
        }
        const floor =
          raw.floor === undefined
            ? 0.9
            : raw.floor === null || raw.floor === 'none'
              ? null
              : num(raw, 'floor', 0.9, 0, 1, method);
        return {
          ranges: ranges as RangeMethod,
          percentile: num(raw, 'percentile', 99.999, 90, 100, method),
          reduceRange: bool(raw, 'reduceRange', true, method),
          activations,
          floor,
          frames: Math.round(num(raw, 'frames', 32, 1, 10_000, method)),
        };
      }
      case 'int8-weights':
        refuseUnknown(raw, ['reduceRange'], method);
        return { reduceRange: bool(raw, 'reduceRange', false, method) };
      case 'fp16': {
        refuseUnknown(raw, ['blockList'], method);
        const list = raw.blockList;
        const blockList =
          list === undefined
            ? DEFAULT_FP16_BLOCK_LIST
            : Array.isArray(list)
              ? list.map(String)
              : String(list).split(',').filter(Boolean);
        return { blockList: [...blockList].sort() };
      }
      case 'prune': {
        refuseUnknown(raw, ['mode', 'sparsity'], method);
        const mode = (raw.mode ?? 'unstructured') as string;
        if (mode !== 'unstructured' && mode !== 'structured') {
          throw new DerivationError(`prune: mode must be unstructured or structured, got "${mode}"`);
        }
        return {
          mode,
          sparsity: num(raw, 'sparsity', mode === 'structured' ? 0.1 : 0.3, 0.01, 0.95, method),
        };
      }
      case 'lowrank':
        refuseUnknown(raw, ['energy', 'maxParamRatio'], method);
        return {
          energy: num(raw, 'energy', 0.99, 0.5, 1, method),
          maxParamRatio: num(raw, 'maxParamRatio', 0.8, 0.05, 1, method),
        };
    }
  })();
  return out as MethodParams[M];
}

const fmt = (v: number) => String(Number(v.toFixed(4)));

/**
 * The variant id: `<source>_<tag>`, the tag naming the method and its key parameters
 * (e.g. `fp32_int8s-pct99.999-f0.9`, `rfb-320_clean`, `fp32_prune-s0.25`).
 */
export function variantTag(method: Method, params: AnyParams): string {
  switch (method) {
    case 'clean':
      return 'clean';
    case 'input-uint8':
      return 'u8in';
    case 'int8-static': {
      const p = params as MethodParams['int8-static'];
      const r = p.ranges === 'percentile' ? `pct${fmt(p.percentile)}` : p.ranges;
      return `int8s-${r}${p.activations === 'int8' ? '-s8' : ''}${p.reduceRange ? '' : '-8bit'}${p.floor === null ? '' : `-f${fmt(p.floor)}`}`;
    }
    case 'int8-weights':
      return (params as MethodParams['int8-weights']).reduceRange ? 'int8w-7bit' : 'int8w';
    case 'fp16': {
      const p = params as MethodParams['fp16'];
      const standard = [...DEFAULT_FP16_BLOCK_LIST].sort().join(',') === p.blockList.join(',');
      return standard ? 'fp16' : `fp16-b${p.blockList.length}`;
    }
    case 'prune': {
      const p = params as MethodParams['prune'];
      return `prune-${p.mode === 'structured' ? 's' : 'u'}${fmt(p.sparsity)}`;
    }
    case 'lowrank':
      return `lowrank-e${fmt((params as MethodParams['lowrank']).energy)}`;
  }
}

export function variantIdFor(sourceId: string, method: Method, params: AnyParams): string {
  const id = `${sourceId}_${variantTag(method, params)}`;
  if (id.length > 64)
    throw new DerivationError(`variant id "${id}" is longer than 64 characters; pass an explicit id`);
  return id;
}
