import { describe, expect, it } from 'vitest';
import { faultTelemetry, HealthFaults, healthStatus } from '../../../src/health/faults.js';
import { FakeClock } from '../../helpers/fake-clock.js';

describe('HealthFaults', () => {
  it('raises once, keeps the first time, clears, and tells listeners', async () => {
    const clock = new FakeClock(1000);
    const faults = new HealthFaults(clock);
    const seen: string[] = [];
    faults.onChange((f, change) => seen.push(`${change}:${f.id}`));
    expect(faults.raise('disk-full', 'full')).toBe(true);
    await clock.advance(500);
    expect(faults.raise('disk-full', 'still full')).toBe(false);
    expect(faults.list()).toEqual([
      { id: 'disk-full', severity: 'error', message: 'still full', sinceMs: 1000 },
    ]);
    expect(healthStatus(faults.list())).toBe('degraded');
    expect(faultTelemetry(faults.list())).toEqual({ healthStatus: 'degraded', faults: 'disk-full' });
    expect(faults.clear('disk-full')).toBe(true);
    expect(faults.clear('disk-full')).toBe(false);
    expect(healthStatus(faults.list())).toBe('ok');
    expect(seen).toEqual(['raised:disk-full', 'cleared:disk-full']);
  });
});
