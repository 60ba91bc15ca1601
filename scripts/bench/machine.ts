import os from 'node:os';
import { onnxruntimeVersion } from '../../src/inference/session.js';

/** What the figures were measured on; every bench section records it. */
export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model ?? 'unknown',
    logicalCpus: cpus.length,
    totalMemoryBytes: os.totalmem(),
    arch: process.arch,
    platform: `${os.type()} ${os.release()}`,
    node: process.version,
    onnxruntime: onnxruntimeVersion(),
    loadAverage1m: os.loadavg()[0] ?? 0,
    measuredAt: new Date().toISOString(),
  };
}
