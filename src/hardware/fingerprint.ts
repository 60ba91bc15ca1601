import { createHash } from 'node:crypto';
import { compareText } from '../collate.js';
import type { DeviceProfile } from './schema.js';

const GiB = 1024 ** 3;

/**
 * Memory size class: the smallest power of two (in GiB, from ¼) that holds the budget, so a Pi 4
 * "4 GB" (MemTotal ≈ 3.7 GiB) is class 4 whatever the firmware reserves, and a 1 GiB cgroup is class 1.
 */
export function memorySizeClassGiB(bytes: number): number {
  let c = 0.25;
  while (c * GiB < bytes * 0.999) c *= 2;
  return c;
}

type FingerprintSource = Pick<
  DeviceProfile,
  'board' | 'cpu' | 'memory' | 'gpu' | 'accelerators' | 'executionProviders'
>;

/**
 * What decides inference speed, and nothing that changes while the device runs (battery,
 * temperature, free memory, current frequency, time). Benchmarks are cached under the hash of this.
 */
export function fingerprintInputs(p: FingerprintSource): Record<string, unknown> {
  return {
    family: p.board.family,
    model: p.board.model ?? null,
    soc: p.board.soc ?? null,
    arch: p.cpu.arch,
    cpuModel: p.cpu.modelName ?? null,
    cores: p.cpu.cores,
    quotaCores: p.cpu.quotaCores ?? null,
    clusters: p.cpu.clusters.map((c) => ({
      coreType: c.coreType ?? null,
      count: c.cpus.length,
      maxMhz: c.maxMhz ?? null,
    })),
    features: [...p.cpu.features].sort(),
    memoryClassGiB: memorySizeClassGiB(p.memory.effectiveBudgetBytes),
    gpus: p.gpu.map((g) => ({
      kind: g.kind,
      name: g.name,
      computeCapability: g.computeCapability ?? null,
      memoryClassGiB: g.memoryTotalBytes ? memorySizeClassGiB(g.memoryTotalBytes) : null,
    })),
    accelerators: p.accelerators.map((a) => `${a.kind}/${a.interface}`).sort(),
    executionProviders: [...p.executionProviders.available].sort(),
    onnxruntime: p.executionProviders.onnxruntimeVersion,
  };
}

/** JSON with object keys sorted at every level, so the hash does not depend on insertion order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => compareText(a, b));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function computeFingerprint(inputs: Record<string, unknown>): string {
  return createHash('sha256').update(canonicalJson(inputs)).digest('hex');
}
