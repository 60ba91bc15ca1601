import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as ortTypes from 'onnxruntime-node';
import { errorMessage } from '../errors.js';
import { EXECUTION_PROVIDERS } from '../inference/providers.js';
import type { Logger } from '../log.js';
import { probeInChildProcess } from './provider-probe.js';
import type { ExecutionProvidersInfo } from './schema.js';

/**
 * Which onnxruntime execution providers actually work in this process: each backend the binding
 * lists is given a one-node model (y = x + x) and must compute it. CPU always works (or nothing does).
 */

function varint(value: number): number[] {
  const out: number[] = [];
  let n = value;
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const field = (num: number, wire: 0 | 2) => varint((num << 3) | wire);
const int = (num: number, v: number) => [...field(num, 0), ...varint(v)];
const bytes = (num: number, b: number[]) => [...field(num, 2), ...varint(b.length), ...b];
const str = (num: number, s: string) => bytes(num, [...Buffer.from(s, 'utf8')]);

/**
 * The probe model, hand-encoded as ONNX protobuf (ModelProto: ir_version 8, opset 13, one Add node
 * over a float[1,4] input). 100-odd bytes; no protobuf library needed for something this small.
 */
export function probeModelBytes(): Uint8Array {
  const dim = (v: number) => bytes(1, int(1, v));
  const tensorType = bytes(1, [...int(1, 1 /* FLOAT */), ...bytes(2, [...dim(1), ...dim(4)])]);
  const valueInfo = (name: string) => [...str(1, name), ...bytes(2, tensorType)];
  const node = [...str(1, 'x'), ...str(1, 'x'), ...str(2, 'y'), ...str(3, 'add'), ...str(4, 'Add')];
  const graph = [
    ...bytes(1, node),
    ...str(2, 'probe'),
    ...bytes(11, valueInfo('x')),
    ...bytes(12, valueInfo('y')),
  ];
  return Uint8Array.from([
    ...int(1, 8),
    ...str(2, 'edge-agent'),
    ...bytes(7, graph),
    ...bytes(8, [...str(1, ''), ...int(2, 13)]),
  ]);
}

function bindingDir(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    return path.join(path.dirname(pkg), 'bin', 'napi-v6', process.platform, process.arch);
  } catch {
    // Bundled into a single file or resolved some other way: no folder to look into.
    return undefined;
  }
}

/**
 * A reason not to try a provider at all, when its libraries or drivers are plainly absent (trying
 * anyway works too, but the native code then prints loader errors on stderr).
 */
export function precheck(provider: string, bundled: boolean): string | undefined {
  if (bundled) {
    if (provider === 'webgpu' && process.platform === 'linux') {
      const icdDirs = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
      const hasIcd = icdDirs.some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
      if (!hasIcd && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) {
        return 'no Vulkan driver installed (no ICD file in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d); WebGPU uses Vulkan on Linux';
      }
    }
    return undefined;
  }
  const dir = bindingDir();
  const lib = `libonnxruntime_providers_${provider}.so`;
  if (process.platform === 'linux' && dir && !existsSync(path.join(dir, lib))) {
    return `${lib} is not installed next to the onnxruntime-node binding (${dir}); install onnxruntime-node with its GPU binaries and the CUDA/TensorRT libraries`;
  }
  return undefined;
}

/** Runs the probe model on one provider; throws when it cannot or computes a wrong result. */
export async function tryProvider(model: Uint8Array, provider: string): Promise<void> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(model, {
    executionProviders: [provider],
    logSeverityLevel: 3,
  });
  try {
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4]), [1, 4]);
    const out = await session.run({ x });
    const y = Array.from(out.y?.data as Float32Array);
    if (y.join(',') !== '2,4,6,8') throw new Error(`wrong result ${JSON.stringify(y)} for 2·[1,2,3,4]`);
  } finally {
    await session.release();
  }
}

export interface ProbeOptions {
  log?: Logger;
  /** Probe again instead of answering from this process's cache. */
  fresh?: boolean;
}

let cached: Promise<ExecutionProvidersInfo> | undefined;

/** Probes once per process (providers do not appear while it runs); `fresh` forces a new probe. */
export function probeExecutionProviders(options: ProbeOptions = {}): Promise<ExecutionProvidersInfo> {
  if (!cached || options.fresh) cached = runProbe(options.log);
  return cached;
}

/**
 * onnxruntime-node on first use: the agent's sessions live in the inference worker, so the main
 * thread needs it only for this probe, which runs after the first frame (~0.1 s less cold start).
 */
function loadOrt(): Promise<typeof ortTypes> {
  return import('onnxruntime-node');
}

async function runProbe(log?: Logger): Promise<ExecutionProvidersInfo> {
  const ort = await loadOrt();
  const model = probeModelBytes();
  const backends = ort.listSupportedBackends();
  // CPU here (it prints nothing, and if even CPU fails nothing else will); the others in a child
  // process, because their native code writes to our stdout/stderr (docs/hardware.md).
  const ordered = [...backends].sort((a, b) => Number(b.name === 'cpu') - Number(a.name === 'cpu'));
  const outcome = new Map<string, string | undefined>();
  for (const backend of ordered) {
    const skip = precheck(backend.name, backend.bundled);
    if (skip) outcome.set(backend.name, skip);
  }
  if (ordered[0]?.name === 'cpu') {
    try {
      await tryProvider(model, 'cpu');
      outcome.set('cpu', undefined);
    } catch (err) {
      outcome.set('cpu', errorMessage(err).split('\n')[0]!.slice(0, 300));
    }
  }
  const others = ordered.map((b) => b.name).filter((name) => !outcome.has(name));
  for (const [name, reason] of await probeInChildProcess(others, { log })) outcome.set(name, reason);
  const available: string[] = [];
  const rejected: ExecutionProvidersInfo['rejected'] = [];
  for (const { name } of ordered) {
    const reason = outcome.get(name);
    if (reason === undefined) available.push(name);
    else rejected.push({ provider: name, reason });
  }
  for (const name of EXECUTION_PROVIDERS) {
    if (!backends.some((b) => b.name === name)) {
      rejected.push({ provider: name, reason: 'not built into this onnxruntime-node package' });
    }
  }
  if (!available.includes('cpu')) {
    log?.error({ rejected }, 'onnxruntime CPU execution provider failed: inference will not work');
  }
  log?.debug({ available, rejected }, 'execution providers probed');
  return {
    available,
    rejected,
    onnxruntimeVersion: ort.env.versions.node ?? ort.env.versions.common,
  };
}
