import { statSync } from 'node:fs';
import path from 'node:path';
import type { AgentConfig } from './schema.js';

/**
 * The files and folders a loaded config (paths already absolute) points at, so `config validate`
 * and `doctor` can say "missing" before the agent starts and restart-loops under systemd.
 */
export interface ReferencedPath {
  /** Config key, e.g. `mqtt.tls.ca`. */
  key: string;
  path: string;
  kind: 'file' | 'dir';
}

/** Keys under any section whose string value is a file path (TLS files, key pairs, ...). */
const FILE_KEY = /^(ca|cert|key|[A-Za-z]*(File|KeyPath|Path))$/;

/** Pure: what must exist for this config to start. */
export function referencedPaths(config: AgentConfig): ReferencedPath[] {
  const out: ReferencedPath[] = [
    { key: 'models.dir', path: config.models.dir, kind: 'dir' },
    {
      key: 'models.default',
      path: path.join(config.models.dir, config.models.default, 'manifest.json'),
      kind: 'file',
    },
  ];
  const source = /^(images|file):(.+)$/.exec(config.camera.source);
  if (source)
    out.push({ key: 'camera.source', path: source[2]!, kind: source[1] === 'images' ? 'dir' : 'file' });
  if (config.hardware.root !== '/')
    out.push({ key: 'hardware.root', path: config.hardware.root, kind: 'dir' });
  // TLS files, and key pairs or other file settings that sections may add later.
  const walk = (value: unknown, prefix: string): void => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return;
    for (const [k, v] of Object.entries(value)) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (typeof v === 'string' && FILE_KEY.test(k) && key !== 'mqtt.tls.passphrase') {
        out.push({ key, path: v, kind: 'file' });
      } else walk(v, key);
    }
  };
  for (const section of ['mqtt', 'http', 'store'] as const) walk(config[section], section);
  const trust = (config as Record<string, unknown>).trust;
  if (trust) walk(trust, 'trust');
  return out;
}

export type StatKind = 'file' | 'dir' | 'other' | 'missing';

export function statKind(p: string): StatKind {
  try {
    const s = statSync(p);
    return s.isFile() ? 'file' : s.isDirectory() ? 'dir' : 'other';
  } catch {
    return 'missing';
  }
}

/** One problem line per referenced path that does not exist or has the wrong kind. */
export function missingPaths(
  refs: readonly ReferencedPath[],
  stat: (p: string) => StatKind = statKind,
): string[] {
  const problems: string[] = [];
  for (const ref of refs) {
    const found = stat(ref.path);
    if (found === 'missing') {
      problems.push(`${ref.key}: ${ref.kind === 'dir' ? 'folder' : 'file'} not found: ${ref.path}`);
    } else if (found !== ref.kind && !(ref.kind === 'file' && found === 'other')) {
      problems.push(
        `${ref.key}: expected a ${ref.kind === 'dir' ? 'folder' : 'file'}, found a ${found}: ${ref.path}`,
      );
    }
  }
  return problems;
}
