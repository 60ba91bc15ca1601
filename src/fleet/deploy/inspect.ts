import { errorMessage } from '../../errors.js';
import { decodeModel, type GraphProto, type TensorProto, toNum } from '../../optimize/onnx/onnx-io.js';
import { DeployError } from './errors.js';

/** Operator domains onnxruntime implements on every build we ship (others would load custom code). */
export const KNOWN_OP_DOMAINS: readonly string[] = ['', 'ai.onnx', 'ai.onnx.ml', 'com.microsoft'];

/** Bytes per element of the ONNX data types (TensorProto.DataType); unknown types count 8. */
const ELEMENT_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
};

export interface StaticReport {
  nodes: number;
  initializers: number;
  declaredWeightBytes: number;
  opDomains: string[];
}

/**
 * What can be refused before any runtime sees the file: not an ONNX model, tensors in external
 * data files (they can name any path, `../../etc/passwd`), operator domains outside the known
 * ones, and initializers whose declared size is absurd (negative dims, or more bytes declared
 * than the file could hold — a decompression-bomb-like allocation in the runtime). Pure.
 */
export function inspectDeployedModel(bytes: Uint8Array, what: string): StaticReport {
  let graph: GraphProto;
  let domains: string[];
  try {
    const model = decodeModel(bytes, what);
    graph = model.graph!;
    domains = model.opsetImport.map((o) => o.domain ?? '');
  } catch (err) {
    throw new DeployError('inspect', errorMessage(err), { cause: err });
  }
  for (const d of domains)
    if (!KNOWN_OP_DOMAINS.includes(d))
      throw new DeployError('inspect', `${what}: unknown operator domain "${d}" refused`);
  let nodes = 0;
  let initializers = 0;
  let declared = 0;
  const walk = (g: GraphProto, depth: number) => {
    if (depth > 16) throw new DeployError('inspect', `${what}: subgraphs nested too deep`);
    for (const t of g.initializer ?? []) {
      initializers += 1;
      declared += tensorBytes(t, what);
    }
    for (const n of g.node ?? []) {
      nodes += 1;
      const domain = n.domain ?? '';
      if (!KNOWN_OP_DOMAINS.includes(domain))
        throw new DeployError(
          'inspect',
          `${what}: node ${n.name || n.opType} uses unknown operator domain "${domain}"`,
        );
      for (const a of n.attribute ?? []) {
        if (a.t) declared += tensorBytes(a.t, what);
        for (const sub of [a.g, ...(a.graphs ?? [])]) if (sub) walk(sub, depth + 1);
      }
    }
  };
  walk(graph, 0);
  // Weights are stored in the file; declared sizes far beyond it are a lie (or a sparse trick).
  if (declared > bytes.length * 4 + 1024 * 1024)
    throw new DeployError(
      'inspect',
      `${what}: tensors declare ${declared} bytes but the file has ${bytes.length}; refused as absurd`,
    );
  return { nodes, initializers, declaredWeightBytes: declared, opDomains: [...new Set(domains)] };
}

function tensorBytes(t: TensorProto, what: string): number {
  let elements = 1;
  for (const d of t.dims ?? []) {
    const n = toNum(d as number);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new DeployError('inspect', `${what}: tensor "${t.name}" declares dimension ${n}`);
    elements *= n;
    if (elements > 2 ** 40)
      throw new DeployError('inspect', `${what}: tensor "${t.name}" declares ${elements}+ elements`);
  }
  return elements * (ELEMENT_BYTES[t.dataType ?? 1] ?? 8);
}
