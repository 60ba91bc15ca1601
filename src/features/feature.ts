import type { LiveKey } from '../config/store.js';
import { EdgeAgentError } from '../errors.js';
import type { CommandTable } from '../fleet/router.js';
import type { RouteRegistrar } from '../http/server.js';

/**
 * One capability reachable from outside, in one module (in the manner of zigbee2mqtt's
 * extensions): its MQTT commands (zod schemas + handlers), its HTTP routes, the config keys it
 * applies live, and its start/stop. A feature module exports a factory `xxxFeature(deps)` taking
 * the small explicit dependencies it calls; the composition root (src/agent.ts via
 * src/agent/features.ts) builds the list and hands the parts to the router, the HTTP server and
 * the config store, which stay generic.
 */
export interface Feature {
  /** Short id, for logs and duplicate checks (`models`, `derive`). */
  readonly name: string;
  /** `request/<command>` → handler; command names are unique across features. */
  readonly commands?: CommandTable;
  /** Registers its routes on the agent's HTTP server (behind its auth hook and error handler). */
  readonly routes?: RouteRegistrar;
  /** Config keys it applies without a restart. */
  readonly live?: readonly LiveKey[];
  /** Long-lived parts (subscriptions, timers); `stop()` undoes them. */
  start?(signal: AbortSignal): Promise<void> | void;
  stop?(): Promise<void> | void;
}

/** A feature whose optional part is absent from this build or device: a clear error, never a silent no-op. */
export class UnavailableError extends EdgeAgentError {
  override name = 'UnavailableError';
}

/** The dependency, or an UnavailableError naming what is missing. */
export function need<T>(dep: T | undefined, what: string): T {
  if (dep === undefined) throw new UnavailableError(`${what} is not available in this build`);
  return dep;
}

/** The router's table from every feature's commands; a name claimed twice is a programming error. */
export function commandTable(features: readonly Feature[]): CommandTable {
  const table: Record<string, CommandTable[string]> = {};
  const owner = new Map<string, string>();
  for (const feature of features) {
    for (const [command, spec] of Object.entries(feature.commands ?? {})) {
      const taken = owner.get(command);
      if (taken)
        throw new EdgeAgentError(`command "${command}" defined by both ${taken} and ${feature.name}`);
      owner.set(command, feature.name);
      table[command] = spec;
    }
  }
  return table;
}

/** Every feature's live config keys, for the config store. */
export function liveKeys(features: readonly Feature[]): LiveKey[] {
  return features.flatMap((f) => f.live ?? []);
}

/** Every feature's HTTP routes, for the HTTP server. */
export function routeRegistrars(features: readonly Feature[]): RouteRegistrar[] {
  return features.flatMap((f) => (f.routes ? [f.routes] : []));
}

export async function startFeatures(features: readonly Feature[], signal: AbortSignal): Promise<void> {
  for (const f of features) await f.start?.(signal);
}

/**
 * Stops in reverse order; one failing stop never keeps the others from running, nor does one that
 * does not finish within `eachMs`: it is reported (and left to finish on its own) and the next
 * feature stops.
 */
export async function stopFeatures(
  features: readonly Feature[],
  onError: (feature: string, err: unknown) => void,
  eachMs = 250,
): Promise<void> {
  for (const f of [...features].reverse()) {
    let timer: NodeJS.Timeout | undefined;
    try {
      const stopped = Promise.resolve(f.stop?.());
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), eachMs);
      });
      if ((await Promise.race([stopped, late])) === 'late') {
        stopped.catch((err) => onError(f.name, err));
        onError(f.name, new EdgeAgentError(`did not stop within ${eachMs} ms; going on`));
      }
    } catch (err) {
      onError(f.name, err);
    } finally {
      clearTimeout(timer);
    }
  }
}
