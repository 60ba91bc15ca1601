import { integrateEnergy } from '../hardware/energy.js';
import { createHost } from '../hardware/host.js';
import { readSample, type SampleReading } from '../hardware/sample.js';
import type { BoardFamily, DeviceProfile } from '../hardware/schema.js';

/** Energy used between `begin` and `end` (whole device where the sensor allows it). */
export interface EnergyMeter {
  readonly source: string;
  begin(): Promise<unknown>;
  /** Joules since the token's `begin`, or undefined when the sensor gave nothing usable. */
  end(token: unknown): Promise<number | undefined>;
}

/**
 * A meter over the profile's power sensor: RAPL counters (wrap-aware) or the average of the power
 * readings at both ends times the elapsed time (INA3221, PMIC, battery). Undefined when the profile
 * lists no sensor: the tuner then uses CPU time per inference (DESIGN.md, issue 15's proxy).
 */
export function sensorEnergyMeter(
  profile: Pick<DeviceProfile, 'power' | 'board' | 'root'>,
  now: () => number = Date.now,
): EnergyMeter | undefined {
  if (profile.power.sensors.length === 0) return undefined;
  const host = createHost({ root: profile.root });
  const family: BoardFamily = profile.board.family;
  const point = (r: SampleReading) => ({
    timeMs: r.sample.timeMs,
    ...(r.sample.powerW === undefined ? {} : { powerW: r.sample.powerW }),
    ...(r.rapl && r.sample.powerSensor !== 'ina3221' ? { rapl: r.rapl } : {}),
  });
  return {
    source: profile.power.sensors.map((s) => `${s.kind}:${s.name}`).join(','),
    begin: () => readSample(host, family, now()),
    async end(token) {
      const start = token as SampleReading;
      const stop = await readSample(host, family, now(), start);
      const e = integrateEnergy([point(start), point(stop)], start.sample.timeMs);
      return e && e.joules > 0 ? e.joules : undefined;
    },
  };
}
