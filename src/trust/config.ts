import * as z from '../zod.js';

/**
 * `trust` in the agent config: who may sign commands and deployment manifests. The whole section
 * is protected from `set-config` (config/protected-keys.ts); the field holding a public key is
 * named `key` so every redacted output (get-config, info, logs) hides it.
 */
/** The `trust` section's schemas, built on each call (inside the configuration's; src/weak-lazy.ts). */
export function trustSchemas() {
  const trustKeySchema = z.strictObject({
    name: z
      .string()
      .check(
        z.minLength(1),
        z.maxLength(64),
        z.describe('A label for logs and audit rows (e.g. "ops", "dashboard")'),
      ),
    key: z
      .string()
      .check(
        z.minLength(40),
        z.maxLength(4096),
        z.describe('Ed25519 public key: base64 SPKI DER or PEM (`edge-agent keys generate`)'),
      ),
    allow: z
      ._default(z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.minLength(1)), ['*'])
      .check(z.describe('Commands this key may sign ("*" = all); deploy manifests need "deploy-model"')),
  });

  const trustSchema = z.prefault(
    z.strictObject({
      keys: z
        ._default(z.array(trustKeySchema).check(z.maxLength(32)), [])
        .check(z.describe('Public keys trusted to sign commands and manifests')),
      requireSignedCommands: z
        ._default(z.boolean(), false)
        .check(z.describe('Refuse unsigned MQTT commands (off for a single device; required for fleets)')),
      clockSkewS: z
        ._default(z.int().check(z.minimum(0), z.maximum(3600)), 120)
        .check(z.describe('Tolerated clock difference with the signer')),
      maxCommandLifetimeS: z
        ._default(z.int().check(z.minimum(10), z.maximum(7 * 86_400)), 86_400)
        .check(z.describe('Longest expiresAt − issuedAt accepted (bounds the replay store)')),
      deploy: z
        .prefault(
          z.strictObject({
            idleTimeoutS: z
              ._default(z.int().check(z.minimum(1), z.maximum(3600)), 30)
              .check(z.describe('Download: no byte for this long fails it')),
            deadlineS: z
              ._default(z.int().check(z.minimum(10), z.maximum(86_400)), 1800)
              .check(z.describe('Download: overall deadline')),
            validateTimeoutS: z
              ._default(z.int().check(z.minimum(5), z.maximum(3600)), 120)
              .check(z.describe('Validation child: load + one inference')),
            validateHeapMB: z
              ._default(z.int().check(z.minimum(64), z.maximum(16_384)), 512)
              .check(z.describe('Validation child: V8 heap cap')),
            validateMemoryMB: z
              ._default(z.int().check(z.minimum(128), z.maximum(65_536)), 1024)
              .check(
                z.describe(
                  'Validation and comparison children: native memory cap (RLIMIT_DATA, and resident memory above it kills the child)',
                ),
              ),
            compareFrames: z
              ._default(z.int().check(z.minimum(0), z.maximum(64)), 8)
              .check(
                z.describe(
                  'Live frames kept in the health window to compare the new variant with the previous one',
                ),
              ),
            minFidelity: z
              ._default(z.number().check(z.minimum(0), z.maximum(1)), 0.5)
              .check(
                z.describe(
                  'Health: fidelity against the previous variant on live frames below this rolls back (0 = off)',
                ),
              ),
            collapseRatio: z
              ._default(z.number().check(z.minimum(0), z.maximum(1)), 0.2)
              .check(
                z.describe(
                  "Health: detections below this fraction of the previous variant's on the same frames roll back",
                ),
              ),
            maxSlowdown: z
              ._default(z.number().check(z.minimum(1), z.maximum(1000)), 3)
              .check(
                z.describe(
                  "The tuner's p95 for the new variant above the serving one's × this: refused before switching",
                ),
              ),
            healthWindowS: z
              ._default(z.int().check(z.minimum(1), z.maximum(86_400)), 60)
              .check(z.describe('Watch the new model this long before committing')),
            latencyFactor: z
              ._default(z.number().check(z.minimum(1), z.maximum(100)), 1.5)
              .check(z.describe('Allowed p95 latency: baseline × this')),
            minInferences: z
              ._default(z.int().check(z.minimum(1)), 10)
              .check(z.describe('Fewer inferences in the window: judged on errors only')),
            keepVersions: z
              ._default(z.int().check(z.minimum(2), z.maximum(50)), 3)
              .check(z.describe('Deployed versions kept per model variant (older ones are pruned)')),
          }),
          {},
        )
        .check(z.describe('Model deployment limits (deploy-model)')),
    }),
    {},
  );
  return { trustKeySchema, trustSchema };
}

export type TrustConfig = z.infer<ReturnType<typeof trustSchemas>['trustSchema']>;
export type TrustKeyConfig = z.infer<ReturnType<typeof trustSchemas>['trustKeySchema']>;
