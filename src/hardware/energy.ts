import { raplDeltaUj } from './parse/power.js';

/** One RAPL counter reading inside a sample. */
export interface RaplReading {
  name: string;
  energyUj: number;
  maxEnergyRangeUj?: number;
}

/** What energy integration needs from a sample. */
export interface EnergyPoint {
  timeMs: number;
  powerW?: number;
  /** Present when the power figure comes from RAPL counters: integrate the counters, not the derived watts. */
  rapl?: readonly RaplReading[];
}

export interface EnergyResult {
  joules: number;
  /** `rapl-counter` when every interval had counters, `power-integral` (trapezoids over powerW) otherwise. */
  method: 'rapl-counter' | 'power-integral';
  /** Time actually covered by samples inside the window. */
  coveredMs: number;
  intervals: number;
}

/** Energy of one RAPL interval (sum over zones), or undefined when a zone is missing or wrapped unknowably. */
export function raplIntervalJ(prev: readonly RaplReading[], cur: readonly RaplReading[]): number | undefined {
  if (cur.length === 0) return undefined;
  let uj = 0;
  for (const c of cur) {
    const p = prev.find((x) => x.name === c.name);
    if (!p) return undefined;
    const d = raplDeltaUj(p.energyUj, c.energyUj, c.maxEnergyRangeUj ?? p.maxEnergyRangeUj);
    if (d === undefined) return undefined;
    uj += d;
  }
  return uj / 1e6;
}

/**
 * Joules between `fromMs` and the last point: RAPL counter differences (wrap-aware) where both ends
 * of an interval have counters, otherwise the trapezoid of the two power readings. Intervals that
 * straddle `fromMs` are cut proportionally. Undefined with fewer than two usable points.
 */
export function integrateEnergy(points: readonly EnergyPoint[], fromMs: number): EnergyResult | undefined {
  let joules = 0;
  let coveredMs = 0;
  let intervals = 0;
  let allRapl = true;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    if (b.timeMs <= fromMs || b.timeMs <= a.timeMs) continue;
    const dtMs = b.timeMs - a.timeMs;
    const inside = Math.min(1, (b.timeMs - fromMs) / dtMs);
    let j: number | undefined;
    if (a.rapl && b.rapl) j = raplIntervalJ(a.rapl, b.rapl);
    if (j === undefined) {
      if (a.powerW === undefined || b.powerW === undefined) continue;
      j = ((a.powerW + b.powerW) / 2) * (dtMs / 1000);
      allRapl = false;
    }
    joules += j * inside;
    coveredMs += dtMs * inside;
    intervals++;
  }
  if (intervals === 0) return undefined;
  return { joules, method: allRapl ? 'rapl-counter' : 'power-integral', coveredMs, intervals };
}

/** A fixed-size ring buffer: the newest `capacity` items, oldest first. */
export class RingBuffer<T> {
  private readonly items: T[] = [];
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 2)
      throw new RangeError(`ring buffer capacity must be an integer ≥ 2, got ${capacity}`);
  }
  push(item: T): void {
    this.items.push(item);
    if (this.items.length > this.capacity) this.items.shift();
  }
  last(): T | undefined {
    return this.items[this.items.length - 1];
  }
  toArray(): T[] {
    return [...this.items];
  }
  get size(): number {
    return this.items.length;
  }
}
