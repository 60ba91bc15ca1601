import { z } from 'zod';

/**
 * `trust` in the agent config: who may sign commands and deployment manifests. The whole section
 * is protected from `set-config` (config/protected-keys.ts); the field holding a public key is
 * named `key` so every redacted output (get-config, info, logs) hides it.
 */
/** The `trust` section's schemas, built on each call (inside the configuration's; src/weak-lazy.ts). */
export function trustSchemas() {
  const trustKeySchema = z.strictObject({
    name: z.string().min(1).max(64).describe('A label for logs and audit rows (e.g. "ops", "dashboard")'),
    key: z
      .string()
      .min(40)
      .max(4096)
      .describe('Ed25519 public key: base64 SPKI DER or PEM (`edge-agent keys generate`)'),
    allow: z
      .array(z.string().min(1).max(64))
      .min(1)
      .default(['*'])
      .describe('Commands this key may sign ("*" = all); deploy manifests need "deploy-model"'),
  });

  const trustSchema = z
    .strictObject({
      keys: z
        .array(trustKeySchema)
        .max(32)
        .default([])
        .describe('Public keys trusted to sign commands and manifests'),
      requireSignedCommands: z
        .boolean()
        .default(false)
        .describe('Refuse unsigned MQTT commands (off for a single device; required for fleets)'),
      clockSkewS: z
        .int()
        .min(0)
        .max(3600)
        .default(120)
        .describe('Tolerated clock difference with the signer'),
      maxCommandLifetimeS: z
        .int()
        .min(10)
        .max(7 * 86_400)
        .default(86_400)
        .describe('Longest expiresAt − issuedAt accepted (bounds the replay store)'),
      deploy: z
        .strictObject({
          idleTimeoutS: z
            .int()
            .min(1)
            .max(3600)
            .default(30)
            .describe('Download: no byte for this long fails it'),
          deadlineS: z.int().min(10).max(86_400).default(1800).describe('Download: overall deadline'),
          validateTimeoutS: z
            .int()
            .min(5)
            .max(3600)
            .default(120)
            .describe('Validation child: load + one inference'),
          validateHeapMB: z.int().min(64).max(16_384).default(512).describe('Validation child: V8 heap cap'),
          validateMemoryMB: z
            .int()
            .min(128)
            .max(65_536)
            .default(1024)
            .describe(
              'Validation and comparison children: native memory cap (RLIMIT_DATA, and resident memory above it kills the child)',
            ),
          compareFrames: z
            .int()
            .min(0)
            .max(64)
            .default(8)
            .describe(
              'Live frames kept in the health window to compare the new variant with the previous one',
            ),
          minFidelity: z
            .number()
            .min(0)
            .max(1)
            .default(0.5)
            .describe(
              'Health: fidelity against the previous variant on live frames below this rolls back (0 = off)',
            ),
          collapseRatio: z
            .number()
            .min(0)
            .max(1)
            .default(0.2)
            .describe(
              "Health: detections below this fraction of the previous variant's on the same frames roll back",
            ),
          maxSlowdown: z
            .number()
            .min(1)
            .max(1000)
            .default(3)
            .describe(
              "The tuner's p95 for the new variant above the serving one's × this: refused before switching",
            ),
          healthWindowS: z
            .int()
            .min(1)
            .max(86_400)
            .default(60)
            .describe('Watch the new model this long before committing'),
          latencyFactor: z
            .number()
            .min(1)
            .max(100)
            .default(1.5)
            .describe('Allowed p95 latency: baseline × this'),
          minInferences: z
            .int()
            .min(1)
            .default(10)
            .describe('Fewer inferences in the window: judged on errors only'),
          keepVersions: z
            .int()
            .min(2)
            .max(50)
            .default(3)
            .describe('Deployed versions kept per model variant (older ones are pruned)'),
        })
        .prefault({})
        .describe('Model deployment limits (deploy-model)'),
    })
    .prefault({});
  return { trustKeySchema, trustSchema };
}

export type TrustConfig = z.infer<ReturnType<typeof trustSchemas>['trustSchema']>;
export type TrustKeyConfig = z.infer<ReturnType<typeof trustSchemas>['trustKeySchema']>;
