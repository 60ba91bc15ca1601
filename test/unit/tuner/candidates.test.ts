import { describe, expect, it } from 'vitest';
import type { ModelEntry } from '../../../src/models/catalog.js';
import { estimateMemoryBytes, planCandidates, threadCounts } from '../../../src/tuner/candidates.js';
import { chooseDerivations } from '../../../src/tuner/derive-plan.js';
import type { CandidateVerdict, Constraints } from '../../../src/tuner/types.js';

const variant = (id: string, bytes: number, reference: string | null = null) => ({
  id,
  file: `${id}.onnx`,
  path: `/m/${id}.onnx`,
  sha256: id.padEnd(64, '0'),
  bytes,
  precision: 'fp32' as const,
  origin: { kind: 'shipped' as const },
  reference,
  derived: false,
});
const entry = {
  manifest: { name: 'm' },
  dir: '/m',
  variants: [variant('fp32', 5e6), variant('big', 400e6, 'fp32')],
} as unknown as ModelEntry;
const profile = (cores: number, available = ['cpu'], quotaCores?: number) =>
  ({
    cpu: { cores, ...(quotaCores ? { quotaCores } : {}) },
    executionProviders: { available, rejected: [], onnxruntimeVersion: '1' },
  }) as never;

describe('candidates', () => {
  it.each([
    [1, 0, [1]],
    [4, 0, [1, 2, 3, 4]],
    [8, 0, [1, 2, 3, 4, 8]],
    [6, 0, [1, 2, 3, 4, 6]],
    [8, 2, [1, 2]],
  ])('%i cores (max %i) → threads %j', (cores, max, expected) => {
    expect(threadCounts(cores, max)).toEqual(expected);
  });

  it('variants × providers × threads; GPU providers get one thread count; a CPU quota counts', () => {
    const plan = planCandidates(entry, profile(8, ['cpu', 'cuda'], 2));
    expect(plan.candidates.map((c) => `${c.variant}/${c.executionProvider}/${c.threads}`)).toEqual([
      'fp32/cpu/1',
      'fp32/cpu/2',
      'fp32/cuda/1',
      'big/cpu/1',
      'big/cpu/2',
      'big/cuda/1',
    ]);
  });

  it('filters by the memory budget up front and says why', () => {
    const plan = planCandidates(entry, profile(2), { memoryBudgetBytes: 512 * 1048576 });
    expect(plan.candidates.map((c) => c.variant)).toEqual(['fp32', 'fp32']);
    expect(plan.filtered).toHaveLength(2);
    expect(plan.filtered[0]!.status).toBe('filtered');
    expect(plan.filtered[0]!.error).toMatch(
      /needs ~\d+ MB \(estimate: 3 × file \+ 64 MB runtime\), memory budget 512 MB/,
    );
    expect(estimateMemoryBytes(400e6)).toBeGreaterThan(512 * 1048576);
  });

  it('a measured memory figure replaces the estimate', () => {
    const plan = planCandidates(entry, profile(1), {
      memoryBudgetBytes: 512 * 1048576,
      knownMemoryBytes: (sha) => (sha.startsWith('big') ? 100 * 1048576 : undefined),
    });
    expect(plan.filtered).toHaveLength(0);
  });
});

describe('derivations when nothing fits', () => {
  const constraints: Constraints = {
    objective: 'min-latency',
    fidelityFloor: 0.9,
    latencyP95Ms: 10,
    switchMarginPercent: 5,
  };
  const verdict = (violations: string[]) =>
    ({ violations, verdict: 'violates' }) as unknown as CandidateVerdict;
  it('a latency miss: clean, int8-static with the floor, input-uint8 (fp16 only with a GPU)', () => {
    const cpu = chooseDerivations(
      entry,
      { candidates: [verdict(['p95 30 ms > budget 10 ms'])], constraints },
      profile(2),
    );
    expect(cpu.map((j) => j.id)).toEqual(['fp32_clean', 'fp32_int8s-pct99.999-f0.9', 'fp32_u8in']);
    expect(cpu[1]!.params.floor).toBe(0.9);
    const gpu = chooseDerivations(
      entry,
      { candidates: [verdict(['p95 30 ms > budget 10 ms'])], constraints },
      profile(2, ['cpu', 'cuda']),
    );
    expect(gpu.map((j) => j.method)).toContain('fp16');
  });
  it('from the common fidelity reference when the manifest names one (int8 keeps the floor against it)', () => {
    const family = {
      manifest: { name: 'uf', fidelityReference: 'big' },
      dir: '/m',
      variants: [variant('small', 1e6), variant('big', 2e6)],
    } as unknown as ModelEntry;
    const jobs = chooseDerivations(
      family,
      { candidates: [verdict(['p95 30 ms > budget 10 ms'])], constraints },
      profile(2),
    );
    expect(jobs.map((j) => j.source)).toEqual(['big', 'big', 'big']);
    expect(jobs[0]!.id).toBe('big_clean');
  });
  it('a fidelity miss alone derives nothing; existing variants are not derived again', () => {
    expect(
      chooseDerivations(
        entry,
        { candidates: [verdict(['fidelity 0.8 < floor 0.9'])], constraints },
        profile(2),
      ),
    ).toEqual([]);
    const withClean = {
      ...entry,
      variants: [...entry.variants, variant('fp32_clean', 5e6, 'fp32')],
    } as ModelEntry;
    const jobs = chooseDerivations(
      withClean,
      { candidates: [verdict(['p95 30 ms > budget 10 ms'])], constraints },
      profile(2),
    );
    expect(jobs.map((j) => j.method)).toEqual(['int8-static', 'input-uint8']);
  });
});
