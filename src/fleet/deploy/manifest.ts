import { manifestSchemas } from '../../models/manifest.js';
import { keyAllows, type TrustedKey, targetMatches, verifySigned } from '../../trust/envelope.js';
import type { SignedDocument } from '../../trust/keys.js';
import { weakLazy } from '../../weak-lazy.js';
import * as z from '../../zod.js';

function buildDeploySchemas() {
  const segment = z.string().check(
    z.regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits or "_.-" (1-64)'),
    z.refine((s) => !s.startsWith('.'), 'must not start with "." (file names are made from it)'),
  );

  /** An output the deployed model must have: its name and shape (null = any size on that axis). */
  const expectedOutputSchema = z.strictObject({
    name: z.string().check(z.minLength(1), z.maxLength(256)),
    shape: z.array(z.nullable(z.int().check(z.minimum(1)))).check(z.maxLength(8)),
  });

  /**
   * The model manifest of a NEW model (one the device does not know): the catalogue's own schema
   * (models/manifest.ts) without what the device fills in — the name is the deployment's `model`,
   * the variant list is the deployed file, and the labels come inline (written to labels.txt).
   */
  const newModelManifestSchema = z.extend(
    z.omit(manifestSchemas().manifestSchema, {
      $schema: true,
      name: true,
      labels: true,
      defaultVariant: true,
      variants: true,
      fidelityReference: true,
    }),
    { labels: z.array(z.string().check(z.maxLength(256))).check(z.minLength(1), z.maxLength(100_000)) },
  );

  /** Per-deployment health rules (signed with the rest), over `trust.deploy`'s. */
  const healthOverridesSchema = z.strictObject({
    /** Fidelity against the previous variant on live frames below this → rolled back (0 = not checked). */
    minFidelity: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
    /** New detections below this fraction of the previous variant's on the same frames → collapse. */
    collapseRatio: z.optional(z.number().check(z.minimum(0), z.maximum(1))),
    /** The tuner's p95 of the new variant above the serving one's × this → refused before switching. */
    maxSlowdown: z.optional(z.number().check(z.minimum(1), z.maximum(1000))),
  });

  /**
   * What an operator signs to ship a model file to devices (`edge-agent sign manifest.json`).
   * `bytes` is exact: the download stops beyond it and fails short of it.
   */
  const deployManifestSchema = z.strictObject({
    model: segment,
    variant: segment,
    version: z.int().check(z.minimum(1), z.maximum(2 ** 31)),
    url: z.url({ protocol: /^https?$/ }),
    sha256: z.string().check(z.regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256')),
    bytes: z.int().check(z.minimum(1), z.maximum(4 * 1024 ** 3)),
    target: z.union([
      z.string().check(z.minLength(1), z.maxLength(128)),
      z.array(z.string().check(z.minLength(1), z.maxLength(128))).check(z.minLength(1), z.maxLength(10_000)),
    ]),
    expires: z.iso.datetime({ offset: true }),
    /** Allows a version lower than the installed one (a deliberate, signed downgrade). */
    downgrade: z._default(z.boolean(), false),
    outputs: z.array(expectedOutputSchema).check(z.minLength(1), z.maxLength(64)),
    precision: z._default(z.enum(['fp32', 'fp16', 'int8', 'mixed']), 'fp32'),
    /** The model manifest, for a model the device does not have yet (docs/fleet-security.md). */
    manifest: z.optional(newModelManifestSchema),
    health: z.optional(healthOverridesSchema),
  });
  return { expectedOutputSchema, newModelManifestSchema, healthOverridesSchema, deployManifestSchema };
}

/** The deployment manifest's schemas, built for a deployment and collected after (src/weak-lazy.ts). */
export const deploySchemas = weakLazy(buildDeploySchemas);
type Schemas = ReturnType<typeof buildDeploySchemas>;
export type NewModelManifest = z.infer<Schemas['newModelManifestSchema']>;
export type DeployManifest = z.infer<Schemas['deployManifestSchema']>;

export interface ManifestCheck {
  deviceId: string;
  keys: ReadonlyMap<string, TrustedKey>;
  nowMs: number;
  clockSkewMs: number;
  /** Highest version installed of this model/variant (0 when none). */
  installedVersion(model: string, variant: string): number;
}

export type ManifestVerdict =
  | { ok: true; manifest: DeployManifest; signedBy: string }
  | { ok: false; reason: string };

/**
 * Signature by a trusted key allowed to deploy, expiry, target and anti-rollback. Pure (the
 * installed versions and the clock come in as values).
 */
export function checkDeployManifest(doc: SignedDocument, check: ManifestCheck): ManifestVerdict {
  const v = verifySigned('deploy-manifest', doc, check.keys, deploySchemas().deployManifestSchema);
  if (!v.ok) return v;
  const m = v.value;
  if (!keyAllows(v.key, 'deploy-model'))
    return {
      ok: false,
      reason: `key ${v.key.name} may not sign deployments ("deploy-model" not in its allow list)`,
    };
  if (Date.parse(m.expires) + check.clockSkewMs < check.nowMs)
    return { ok: false, reason: `manifest expired at ${m.expires}` };
  if (!targetMatches(m.target, check.deviceId))
    return { ok: false, reason: `manifest is not addressed to ${check.deviceId}` };
  const installed = check.installedVersion(m.model, m.variant);
  if (m.version <= installed && !(m.downgrade && m.version < installed))
    return {
      ok: false,
      reason:
        m.version === installed
          ? `version ${m.version} of ${m.model}/${m.variant} is already installed`
          : `downgrade refused: version ${m.version} < installed ${installed} (sign with "downgrade": true to allow)`,
    };
  return { ok: true, manifest: m, signedBy: v.key.name };
}
