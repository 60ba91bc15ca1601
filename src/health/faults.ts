import type { Clock } from '../clock.js';
import { compareText } from '../collate.js';

/**
 * What is wrong with the device while it keeps running: a full disk, a camera that cannot be
 * opened, a model that fell back to another variant, MQTT that cannot connect. The agent degrades
 * instead of exiting (systemd would only restart it into the same fault); these faults are how the
 * degradation shows in `/healthz`, `/api/status` and telemetry.
 */
export type FaultSeverity = 'warning' | 'error';

export interface Fault {
  /** Stable id: `disk-full`, `camera`, `model-fallback`, `mqtt-tls`, ... */
  id: string;
  severity: FaultSeverity;
  message: string;
  /** When it was first raised (ms since the epoch); a new message keeps the time. */
  sinceMs: number;
}

export type FaultListener = (fault: Fault, change: 'raised' | 'cleared') => void;

export class HealthFaults {
  private readonly faults = new Map<string, Fault>();
  private readonly listeners = new Set<FaultListener>();
  private readonly probes: Array<() => Fault | undefined> = [];

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  /** Raises (or updates the message of) a fault; true when it was not raised before. */
  raise(id: string, message: string, severity: FaultSeverity = 'error'): boolean {
    const existing = this.faults.get(id);
    const fault = { id, severity, message, sinceMs: existing?.sinceMs ?? this.clock.now() };
    this.faults.set(id, fault);
    if (!existing) this.notify(fault, 'raised');
    return !existing;
  }

  /** Clears a fault; true when it was raised. */
  clear(id: string): boolean {
    const fault = this.faults.get(id);
    if (!fault) return false;
    this.faults.delete(id);
    this.notify(fault, 'cleared');
    return true;
  }

  has(id: string): boolean {
    return this.list().some((f) => f.id === id);
  }

  /** A fault derived from another component's state (camera offline, model fallback), read on list(). */
  probe(fn: () => Fault | undefined): void {
    this.probes.push(fn);
  }

  list(): Fault[] {
    const probed = this.probes.flatMap((p) => {
      const f = p();
      return f ? [f] : [];
    });
    return [...this.faults.values(), ...probed].sort(
      (a, b) => a.sinceMs - b.sinceMs || compareText(a.id, b.id),
    );
  }

  onChange(listener: FaultListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(fault: Fault, change: 'raised' | 'cleared'): void {
    for (const listener of this.listeners) listener(fault, change);
  }
}

/** `ok` without faults, `degraded` with any (the process still serves what works). Pure. */
export function healthStatus(faults: readonly Fault[]): 'ok' | 'degraded' {
  return faults.length === 0 ? 'ok' : 'degraded';
}

/** Flat telemetry fields (the record has no nesting): `healthStatus`, `faults` ("a,b"). Pure. */
export function faultTelemetry(faults: readonly Fault[]): { healthStatus: string; faults: string } {
  return { healthStatus: healthStatus(faults), faults: faults.map((f) => f.id).join(',') };
}
