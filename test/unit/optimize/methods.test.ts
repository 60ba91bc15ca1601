import { describe, expect, it } from 'vitest';
import { DerivationError } from '../../../src/optimize/errors.js';
import {
  METHODS,
  methodFor,
  normalizeParams,
  parseMethod,
  variantIdFor,
} from '../../../src/optimize/methods/index.js';

describe('methods', () => {
  it('refuses an unknown method, naming the known ones', () => {
    expect(() => parseMethod('int4')).toThrow(DerivationError);
    expect(() => parseMethod('int4')).toThrow(/int8-static.*lowrank/);
  });

  it('fills defaults so the same request always names the same variant', () => {
    const p = normalizeParams('int8-static', {});
    expect(p).toEqual({
      ranges: 'percentile',
      percentile: 99.999,
      reduceRange: true,
      activations: 'uint8',
      floor: 0.9,
      frames: 32,
    });
    expect(variantIdFor('fp32', 'int8-static', p)).toBe('fp32_int8s-pct99.999-f0.9');
    expect(
      variantIdFor(
        'fp32',
        'int8-static',
        normalizeParams('int8-static', { ranges: 'minmax', floor: 'none' }),
      ),
    ).toBe('fp32_int8s-minmax');
    expect(variantIdFor('rfb-320', 'clean', normalizeParams('clean'))).toBe('rfb-320_clean');
    expect(variantIdFor('fp32', 'int8-static', normalizeParams('int8-static', { activations: 'int8' }))).toBe(
      'fp32_int8s-pct99.999-s8-f0.9',
    );
    expect(variantIdFor('fp32', 'prune', normalizeParams('prune', { mode: 'structured' }))).toBe(
      'fp32_prune-s0.1',
    );
    expect(variantIdFor('fp32', 'lowrank', normalizeParams('lowrank', { energy: '0.9' }))).toBe(
      'fp32_lowrank-e0.9',
    );
    expect(variantIdFor('fp32_int8w', 'input-uint8', normalizeParams('input-uint8'))).toBe('fp32_int8w_u8in');
  });

  it('rejects bad and unknown parameters with the accepted ones', () => {
    expect(() => normalizeParams('prune', { sparsity: 2 })).toThrow(
      /sparsity must be a number in \[0.01, 0.95\]/,
    );
    expect(() => normalizeParams('int8-static', { ranges: 'kl' })).toThrow(/minmax, percentile or entropy/);
    expect(() => normalizeParams('fp16', { energy: 0.9 })).toThrow(
      /unknown parameter\(s\) energy \(accepted: blockList\)/,
    );
    expect(() => normalizeParams('clean', { x: 1 })).toThrow(DerivationError);
  });
});

describe('method registry', () => {
  it('registers every method once, each with a summary, a schema and a tag of its defaults', () => {
    expect(new Set(METHODS).size).toBe(METHODS.length);
    for (const id of METHODS) {
      const m = methodFor(id);
      expect(m.id).toBe(id);
      expect(m.summary.length).toBeGreaterThan(10);
      expect(m.params.safeParse({}).success).toBe(true);
      expect(m.tag(normalizeParams(id, {}))).toMatch(/^[a-z0-9][a-z0-9.-]*$/);
    }
  });

  it('names the bad field in parameter errors', () => {
    expect(() => normalizeParams('int8-static', { reduceRange: 'maybe' })).toThrow(
      /^int8-static: reduceRange must be true or false, got "maybe"$/,
    );
    expect(() => normalizeParams('int8-static', { floor: 'high' })).toThrow(
      /^int8-static: floor must be a number in \[0, 1\], got "high"$/,
    );
    expect(() => normalizeParams('prune', { mode: 'random' })).toThrow(
      /^prune: mode must be unstructured or structured, got "random"$/,
    );
    expect(() => normalizeParams('lowrank', { energy: 0.9, depth: 3 })).toThrow(
      /^lowrank: unknown parameter\(s\) depth \(accepted: energy, maxParamRatio\)$/,
    );
  });

  it('accepts the string spellings the CLI and MQTT send, and null as the default', () => {
    expect(
      normalizeParams('int8-static', { reduceRange: '0', frames: '7.6', percentile: null }),
    ).toMatchObject({
      reduceRange: false,
      frames: 8,
      percentile: 99.999,
    });
    expect(normalizeParams('fp16', { blockList: 'Softmax,Resize' })).toEqual({
      blockList: ['Resize', 'Softmax'],
    });
  });
});
