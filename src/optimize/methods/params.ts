import * as z from '../../zod.js';
import { DerivationError } from '../errors.js';

/**
 * Zod building blocks for derivation parameters. Parameters arrive from the CLI and MQTT as
 * strings as often as typed values (`--param sparsity=0.3`), so numbers and booleans accept their
 * string spelling; `null` means "the default". Messages are completed with the field name by
 * `parseParams`: `prune: sparsity must be a number in [0.01, 0.95], got 2`.
 */

const shown = (v: unknown) => JSON.stringify(v) ?? String(v);

/** A finite number in [min, max] (a numeric string counts), `fallback` when absent or null. */
export function numberParam(fallback: number, min: number, max: number) {
  return z.pipe(
    optionalNumberParam(min, max),
    z.transform((v) => v ?? fallback),
  );
}

/** As `numberParam`, but absent stays undefined (for defaults that depend on another field). */
export function optionalNumberParam(min: number, max: number) {
  const message = (iss: { input?: unknown }) =>
    `must be a number in [${min}, ${max}], got ${shown(iss.input)}`;
  return z.preprocess(
    (v) => (v === null ? undefined : typeof v === 'string' && Number.isFinite(Number(v)) ? Number(v) : v),
    z.optional(z.number({ error: message }).check(z.minimum(min), z.maximum(max))),
  );
}

/** true/false, or their spellings "true"/"1" and "false"/"0"; `fallback` when absent or null. */
export function booleanParam(fallback: boolean) {
  return z.preprocess(
    (v) =>
      v === null ? undefined : v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v,
    z._default(z.boolean({ error: (iss) => `must be true or false, got ${shown(iss.input)}` }), fallback),
  );
}

/** One of `values`; `fallback` when absent or null. */
export function enumParam<const T extends readonly [string, ...string[]]>(values: T, fallback: T[number]) {
  const list = values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : values[0];
  return z.preprocess(
    (v) => (v === null ? undefined : v),
    z._default(z.enum(values, { error: (iss) => `must be ${list}, got "${String(iss.input)}"` }), fallback),
  );
}

/** No parameters at all. */
export const noParams = z.strictObject({});

/**
 * Validates raw parameters against a method's schema; a bad field is named in the error, unknown
 * fields are listed with the accepted ones. Keys whose value is undefined are ignored.
 */
export function parseParams<S extends z.ZodMiniType>(
  method: string,
  schema: S,
  raw: Record<string, unknown>,
): z.output<S> {
  const given = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  const result = schema.safeParse(given);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const accepted = Object.keys(objectOf(schema)?.shape ?? {}).join(', ');
    throw new DerivationError(
      `${method}: unknown parameter(s) ${issue.keys.join(', ')} (accepted: ${accepted || 'none'})`,
    );
  }
  const field = issue.path.join('.');
  throw new DerivationError(`${method}: ${field ? `${field} ` : ''}${issue.message}`);
}

/** The object schema under transforms (`z.strictObject({...}).transform(...)`). */
function objectOf(schema: z.ZodMiniType): z.ZodMiniObject | undefined {
  if (schema instanceof z.ZodMiniObject) return schema;
  if (schema instanceof z.ZodMiniPipe) return objectOf(schema.def.in as z.ZodMiniType);
  return undefined;
}
