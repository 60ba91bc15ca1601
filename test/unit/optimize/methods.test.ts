import { describe, expect, it } from 'vitest';
import { DerivationError } from '../../../src/optimize/errors.js';
import { normalizeParams, parseMethod, variantIdFor } from '../../../src/optimize/methods.js';

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
