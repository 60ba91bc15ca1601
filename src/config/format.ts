import type * as z from '../zod.js';
import type { JsonSchemaNode } from './json-schema.js';
import { isSecretKey, REDACTED, redactSecrets } from './redact.js';

/**
 * Turns zod issues into one line per bad field: `camera.fps: expected number > 0, got "fast"`.
 * The expectation is described from the JSON Schema node at the field's path, so the message
 * names the whole constraint even when zod only reports the type.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  root: JsonSchemaNode,
): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const known = Object.keys(nodeAt(root, path)?.properties ?? {});
        const hint = closest(key, known);
        lines.push(`${joinPath([...path, key])}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
      continue;
    }
    const node = nodeAt(root, path);
    const value = valueAt(input, path);
    const expected = node ? describeNode(node) : undefined;
    const detail =
      issue.code === 'custom' || !expected
        ? issue.message
        : issue.code === 'invalid_format' && node?.pattern
          ? `expected ${issue.message.replace(/^Invalid string: /, '')}`
          : `expected ${expected}`;
    // A bad secret is not echoed back (the message reaches MQTT answers and logs).
    const given =
      isSecretKey(path.at(-1) ?? '') && value !== undefined ? REDACTED : show(redactSecrets(value));
    lines.push(`${joinPath(path)}: ${detail}, got ${given}`);
  }
  return lines;
}

function joinPath(path: readonly string[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function nodeAt(root: JsonSchemaNode, path: readonly string[]): JsonSchemaNode | undefined {
  let node: JsonSchemaNode | undefined = root;
  for (const key of path) {
    if (!node) return undefined;
    if (/^\d+$/.test(key) && node.items) node = node.items;
    else node = node.properties?.[key];
  }
  return node;
}

function valueAt(input: unknown, path: readonly string[]): unknown {
  let value: unknown = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function describeNode(node: JsonSchemaNode): string {
  if (node.anyOf) return node.anyOf.map(describeNode).join(' or ');
  if (node.enum) return `one of ${node.enum.map((v) => JSON.stringify(v)).join(', ')}`;
  const type = Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'a value');
  const parts: string[] = [];
  if (type === 'integer' || type === 'number') {
    if (node.exclusiveMinimum !== undefined) parts.push(`> ${node.exclusiveMinimum}`);
    if (node.minimum !== undefined && node.minimum > Number.MIN_SAFE_INTEGER)
      parts.push(`>= ${node.minimum}`);
    if (node.exclusiveMaximum !== undefined) parts.push(`< ${node.exclusiveMaximum}`);
    if (node.maximum !== undefined && node.maximum < Number.MAX_SAFE_INTEGER)
      parts.push(`<= ${node.maximum}`);
  }
  if (type === 'string') {
    if (node.pattern) parts.push(`matching ${node.pattern}`);
    else if (node.minLength && node.minLength > 1) parts.push(`of at least ${node.minLength} characters`);
    else if (node.minLength) parts.push('(non-empty)');
  }
  if (type === 'array') {
    const item = node.items ? describeNode(node.items) : 'values';
    return `array of ${item}${node.minItems ? ` (at least ${node.minItems})` : ''}`;
  }
  return parts.length ? `${type} ${parts.join(' and ')}` : type;
}

function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** Nearest known key by edit distance, for "did you mean" hints on typos. */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length]!;
}
