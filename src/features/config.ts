import type { AgentConfig } from '../config/index.js';
import { assertRemoteCameraHost, assertRemotelyChangeable } from '../config/protected-keys.js';
import { redactSecrets } from '../config/redact.js';
import type { SetConfigResult } from '../config/store.js';
import { defineCommand } from '../fleet/router.js';
import * as z from '../zod.js';
import type { Feature } from './feature.js';

export interface ConfigFeatureDeps {
  /** The config store (src/config/store.ts): the effective config and patches to the file. */
  store: {
    effective(): AgentConfig;
    set(patch: Record<string, unknown>): Promise<SetConfigResult>;
  };
  /** Re-publishes what the fleet sees of the device (the retained info carries the config). */
  infoChanged?(): Promise<void>;
}

/**
 * get-config / set-config. The live keys themselves belong to the features that apply them; the
 * config store collects them (src/features/feature.ts liveKeys).
 */
export function configFeature(deps: ConfigFeatureDeps): Feature {
  return {
    name: 'config',
    commands: {
      'get-config': defineCommand({
        summary: 'The effective configuration, secrets redacted',
        params: z.strictObject({}),
        mutates: false,
        cost: 'light',
        run: () => redactSecrets(deps.store.effective()),
      }),
      'set-config': defineCommand({
        summary:
          'Merges a partial config (JSON merge patch), validates the whole, persists it, applies what it can live',
        params: z.strictObject({ patch: z.record(z.string(), z.unknown()) }),
        mutates: true,
        run: async ({ patch }: { patch: Record<string, unknown> }) => {
          assertRemotelyChangeable(patch); // security-relevant keys: never over unsigned MQTT
          await assertRemoteCameraHost(patch); // a camera host name resolving to this device
          const result = await deps.store.set(patch);
          await deps.infoChanged?.();
          return { ...result, config: redactSecrets(deps.store.effective()) };
        },
      }),
    },
  };
}
