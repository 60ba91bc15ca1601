import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  commandTable,
  type Feature,
  liveKeys,
  need,
  routeRegistrars,
  startFeatures,
  stopFeatures,
  UnavailableError,
} from '../../../src/features/feature.js';
import { defineCommand } from '../../../src/fleet/router.js';

const command = (summary: string) =>
  defineCommand({ summary, params: z.strictObject({}), mutates: false, run: () => summary });

describe('features', () => {
  it('merge their commands into one table and refuse a name claimed twice', () => {
    const a: Feature = { name: 'a', commands: { ping: command('a') } };
    const b: Feature = { name: 'b', commands: { 'get-foo': command('b') } };
    expect(Object.keys(commandTable([a, b])).sort()).toEqual(['get-foo', 'ping']);
    const clash: Feature = { name: 'c', commands: { ping: command('c') } };
    expect(() => commandTable([a, clash])).toThrow('command "ping" defined by both a and c');
  });

  it('hand their live keys and routes to the config store and the HTTP server', () => {
    const apply = () => undefined;
    const routes = () => undefined;
    const features: Feature[] = [
      { name: 'a', live: [{ prefix: 'x', apply }] },
      { name: 'b', routes },
      { name: 'c' },
    ];
    expect(liveKeys(features)).toEqual([{ prefix: 'x', apply }]);
    expect(routeRegistrars(features)).toEqual([routes]);
  });

  it('start in order, stop in reverse; one failing stop does not keep the others from stopping', async () => {
    const log: string[] = [];
    const feature = (name: string, failStop = false): Feature => ({
      name,
      start: () => void log.push(`start ${name}`),
      stop: () => {
        log.push(`stop ${name}`);
        if (failStop) throw new Error(`${name} broke`);
      },
    });
    const features = [feature('a'), feature('b', true), feature('c')];
    await startFeatures(features, new AbortController().signal);
    const errors: string[] = [];
    await stopFeatures(features, (name, err) => errors.push(`${name}: ${(err as Error).message}`));
    expect(log).toEqual(['start a', 'start b', 'start c', 'stop c', 'stop b', 'stop a']);
    expect(errors).toEqual(['b: b broke']);
  });

  it('one stop that hangs does not keep the features before it from stopping', async () => {
    const log: string[] = [];
    const features: Feature[] = [
      { name: 'a', stop: async () => void log.push('stop a') },
      { name: 'hung', stop: () => new Promise<void>(() => undefined) },
      { name: 'c', stop: async () => void log.push('stop c') },
    ];
    const errors: string[] = [];
    const started = Date.now();
    await stopFeatures(features, (name, err) => errors.push(`${name}: ${(err as Error).message}`), 50);
    expect(log).toEqual(['stop c', 'stop a']);
    expect(errors).toEqual(['hung: did not stop within 50 ms; going on']);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('need(): the dependency, or a clear "not available" error', () => {
    expect(need(1, 'x')).toBe(1);
    expect(() => need(undefined, 'get-foo (foo part)')).toThrow(UnavailableError);
    expect(() => need(undefined, 'get-foo (foo part)')).toThrow(
      'get-foo (foo part) is not available in this build',
    );
  });
});
